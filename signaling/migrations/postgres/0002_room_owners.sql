-- Each room is managed by the API key that created it (and by admin keys). Rooms made before
-- this have no owner and are managed by admin keys only, until an admin gives them one.
ALTER TABLE rooms ADD COLUMN owner_key_id TEXT;
CREATE INDEX rooms_owner ON rooms (owner_key_id, slug);
