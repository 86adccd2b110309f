-- Alerts are append-mostly: inserted once per (user, breach), then only
-- their read flag changes. Ids are the replay cursor, so they must grow in
-- creation order; SQLite's single writer guarantees that.
CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     TEXT    NOT NULL,
    breach_id   TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    severity    TEXT    NOT NULL,
    confidence  DOUBLE  NOT NULL,
    detected_at TIMESTAMP NOT NULL,
    description TEXT,
    source      TEXT,
    read        BOOLEAN NOT NULL DEFAULT 0,
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (user_id, breach_id)
);

-- Listing, paging and replay all walk one user's alerts by id.
CREATE INDEX alerts_user_id_id ON alerts (user_id, id);
-- The unread count only touches unread rows.
CREATE INDEX alerts_user_unread ON alerts (user_id, id) WHERE read = 0;

-- Opaque API tokens: only a SHA-256 of the token is kept.
CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);

-- Values the server generates once and must keep across restarts
-- (the development JWT secret and service key).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
