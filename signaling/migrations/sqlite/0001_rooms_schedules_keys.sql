-- Rooms, their weekly schedules, and the API keys of organisers and admins.
-- Times are Unix milliseconds (UTC); local schedule times are ISO text in the schedule's zone.
CREATE TABLE rooms (
    id                 TEXT PRIMARY KEY,
    slug               TEXT NOT NULL UNIQUE,
    name               TEXT NOT NULL,
    description        TEXT,
    time_zone          TEXT NOT NULL,
    capacity           INTEGER NOT NULL,
    early_join_minutes INTEGER NOT NULL,
    grace_minutes      INTEGER NOT NULL,
    invite_secret      TEXT NOT NULL,
    key_version        INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);

CREATE TABLE schedules (
    room_id          TEXT PRIMARY KEY REFERENCES rooms (id) ON DELETE CASCADE,
    rrule            TEXT NOT NULL,
    start_local      TEXT NOT NULL,
    duration_minutes INTEGER NOT NULL,
    time_zone        TEXT,
    exdates          TEXT NOT NULL,
    moves            TEXT NOT NULL,
    updated_at       INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
