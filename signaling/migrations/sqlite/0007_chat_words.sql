-- On PostgreSQL this version stores each message's words for search; SQLite's FTS5 index
-- (0005) already holds them, so there is nothing to do here.
SELECT 1;
