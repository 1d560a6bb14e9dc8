-- One-time sign-in links an admin makes for a key's holder, and the browser sessions they open.
-- Only SHA-256 hashes of the link and session tokens are stored. Times are Unix milliseconds.
CREATE TABLE sign_in_links (
    hash        TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);

CREATE TABLE sessions (
    hash        TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    ended_at    INTEGER
);

CREATE INDEX sessions_key ON sessions (key_id);
