-- Who came: one row per stretch of presence in a stored room's meeting. `meeting` is the
-- meeting's start (RFC 3339; for a room without a schedule, its session's first join).
-- `left_at` is NULL while the stretch is open; `seen_at` is the last moment the server knew
-- it alive, which closes it if the server dies.
CREATE TABLE attendance (
    id        TEXT PRIMARY KEY,
    room_id   TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    meeting   TEXT NOT NULL,
    identity  TEXT NOT NULL,
    name      TEXT NOT NULL,
    joined_at INTEGER NOT NULL,
    left_at   INTEGER,
    seen_at   INTEGER NOT NULL
);
CREATE INDEX attendance_meeting ON attendance (room_id, meeting, identity);
CREATE INDEX attendance_open ON attendance (left_at);
