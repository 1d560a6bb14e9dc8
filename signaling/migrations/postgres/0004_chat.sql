-- A stored room's chat, kept between meetings. `seq` orders it; `id` is the id clients see.
-- `occurrence` is the start (RFC 3339) of the meeting the message was sent in, if any.
CREATE TABLE chat_messages (
    seq            BIGSERIAL PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    room_id        TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    identity       TEXT NOT NULL,
    participant_id TEXT NOT NULL,
    name           TEXT NOT NULL,
    text           TEXT NOT NULL,
    occurrence     TEXT,
    sent_at        BIGINT NOT NULL
);
CREATE INDEX chat_messages_room ON chat_messages (room_id, seq);
