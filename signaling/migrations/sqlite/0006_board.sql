-- A room's resource board: links, files and text notes. A file's bytes are in the data
-- directory under `file_id` (random); `file_name` is only what it is shown and downloaded as.
-- `meeting` attaches an item to a meeting (its start, RFC 3339): the agenda of one to come,
-- or what was shared in one. Pinned items come first, then by `position`.
CREATE TABLE board_items (
    id          TEXT PRIMARY KEY,
    room_id     TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    title       TEXT NOT NULL,
    description TEXT,
    url         TEXT,
    body        TEXT,
    file_id     TEXT UNIQUE,
    file_name   TEXT,
    file_type   TEXT,
    file_size   INTEGER,
    identity    TEXT NOT NULL,
    author_name TEXT NOT NULL,
    meeting     TEXT,
    pinned      INTEGER NOT NULL,
    position    INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX board_items_room ON board_items (room_id, pinned, position);
