-- Kept chat can be edited and deleted (a deleted message keeps its row, with its text gone),
-- searched (FTS5, kept in step with the table by triggers), and kept for a number of days only.
ALTER TABLE chat_messages ADD COLUMN edited_at INTEGER;
ALTER TABLE chat_messages ADD COLUMN deleted_at INTEGER;
ALTER TABLE chat_messages ADD COLUMN deleted_by TEXT;
CREATE INDEX chat_messages_sent ON chat_messages (room_id, sent_at);
CREATE INDEX chat_messages_occurrence ON chat_messages (room_id, occurrence, seq);

-- NULL keeps chat for ever.
ALTER TABLE rooms ADD COLUMN chat_retention_days INTEGER;

CREATE VIRTUAL TABLE chat_fts USING fts5 (
    text,
    content = 'chat_messages',
    content_rowid = 'seq',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO chat_fts (chat_fts) VALUES ('rebuild');
CREATE TRIGGER chat_fts_insert AFTER INSERT ON chat_messages BEGIN
    INSERT INTO chat_fts (rowid, text) VALUES (new.seq, new.text);
END;
CREATE TRIGGER chat_fts_delete AFTER DELETE ON chat_messages BEGIN
    INSERT INTO chat_fts (chat_fts, rowid, text) VALUES ('delete', old.seq, old.text);
END;
CREATE TRIGGER chat_fts_update AFTER UPDATE OF text ON chat_messages BEGIN
    INSERT INTO chat_fts (chat_fts, rowid, text) VALUES ('delete', old.seq, old.text);
    INSERT INTO chat_fts (rowid, text) VALUES (new.seq, new.text);
END;
