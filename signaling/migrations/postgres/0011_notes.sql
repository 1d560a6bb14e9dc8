-- Shared notes. Every document's updates (the yrs v1 encoding), appended in the order the
-- server applied them, and its snapshot: the encoded state of everything up to update `upto`,
-- from which it loads before the updates after it.
CREATE TABLE doc_updates (
    seq     BIGSERIAL PRIMARY KEY,
    room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    doc     TEXT NOT NULL,
    body    BYTEA NOT NULL,
    at      BIGINT NOT NULL
);
CREATE INDEX doc_updates_doc ON doc_updates (room_id, doc, seq);
CREATE TABLE doc_snapshots (
    room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    doc     TEXT NOT NULL,
    state   BYTEA NOT NULL,
    upto    BIGINT NOT NULL,
    at      BIGINT NOT NULL,
    PRIMARY KEY (room_id, doc)
);
-- Whether only hosts edit the room's notes (participants read them).
ALTER TABLE rooms ADD COLUMN notes_read_only BIGINT NOT NULL DEFAULT 0;
