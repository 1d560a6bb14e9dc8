-- A room's roster. `link_version` is in every personal invite link of the member; bumping it
-- revokes them all. Emails are unique within a room (several members may have none).
CREATE TABLE members (
    id           TEXT PRIMARY KEY,
    room_id      TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    email        TEXT,
    role         TEXT NOT NULL,
    link_version BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX members_room ON members (room_id, display_name);
CREATE UNIQUE INDEX members_room_email ON members (room_id, email);
