-- Kept chat can be edited and deleted (a deleted message keeps its row, with its text gone),
-- searched (a GIN index over its words, with the 'simple' configuration: no stemming, as the
-- SQLite index), and kept for a number of days only.
ALTER TABLE chat_messages ADD COLUMN edited_at BIGINT;
ALTER TABLE chat_messages ADD COLUMN deleted_at BIGINT;
ALTER TABLE chat_messages ADD COLUMN deleted_by TEXT;
CREATE INDEX chat_messages_sent ON chat_messages (room_id, sent_at);
CREATE INDEX chat_messages_occurrence ON chat_messages (room_id, occurrence, seq);
CREATE INDEX chat_messages_words ON chat_messages USING GIN (to_tsvector('simple', text));

-- NULL keeps chat for ever.
ALTER TABLE rooms ADD COLUMN chat_retention_days BIGINT;
