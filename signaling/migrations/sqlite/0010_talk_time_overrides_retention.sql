-- Talk time of each stretch of presence, in milliseconds, by the server's speaker detection
-- (rooms in the 'talk_time' attendance mode).
ALTER TABLE attendance ADD COLUMN talk_ms INTEGER NOT NULL DEFAULT 0;
-- How long a room keeps its attendance, in days (NULL: for as long as the room exists).
ALTER TABLE rooms ADD COLUMN attendance_retention_days INTEGER;
-- A host's word on someone's attendance of one meeting: the status shown instead of the
-- suggested one, and why.
CREATE TABLE attendance_overrides (
    room_id  TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    meeting  TEXT NOT NULL,
    identity TEXT NOT NULL,
    status   TEXT NOT NULL,
    note     TEXT NOT NULL,
    set_by   TEXT NOT NULL,
    set_at   INTEGER NOT NULL,
    PRIMARY KEY (room_id, meeting, identity)
);
