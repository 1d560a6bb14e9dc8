-- The notes as they were when a meeting ended: its minutes, and the room's standing notes as
-- they stood then, as text (Markdown). `meeting` names the meeting as its minutes do (its
-- start, RFC 3339 in the room's zone); `doc` is `minutes:<meeting>` or `room`.
CREATE TABLE doc_history (
    room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    meeting TEXT NOT NULL,
    doc     TEXT NOT NULL,
    body    TEXT NOT NULL,
    at      BIGINT NOT NULL,
    PRIMARY KEY (room_id, meeting, doc)
);
