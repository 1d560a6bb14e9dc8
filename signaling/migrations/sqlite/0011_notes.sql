-- Shared notes. Every document's updates (the yrs v1 encoding), appended in the order the
-- server applied them, and its snapshot: the encoded state of everything up to update `upto`,
-- from which it loads before the updates after it.
CREATE TABLE doc_updates (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    doc     TEXT NOT NULL,
    body    BLOB NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX doc_updates_doc ON doc_updates (room_id, doc, seq);
CREATE TABLE doc_snapshots (
    room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    doc     TEXT NOT NULL,
    state   BLOB NOT NULL,
    upto    INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    PRIMARY KEY (room_id, doc)
);
-- Whether only hosts edit the room's notes (participants read them).
ALTER TABLE rooms ADD COLUMN notes_read_only INTEGER NOT NULL DEFAULT 0;
