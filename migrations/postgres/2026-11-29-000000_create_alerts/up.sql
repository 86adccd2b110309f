-- Alerts are append-mostly: inserted once per (user, breach), then only
-- their read flag changes. Ids are the replay cursor; inserts for one user
-- take a transaction-scoped advisory lock so that a user's ids commit in
-- the order they were drawn from the sequence.
CREATE TABLE alerts (
    id          BIGSERIAL PRIMARY KEY,
    user_id     TEXT    NOT NULL,
    breach_id   TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    severity    TEXT    NOT NULL,
    confidence  DOUBLE PRECISION NOT NULL,
    detected_at TIMESTAMP NOT NULL,
    description TEXT,
    source      TEXT,
    read        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (user_id, breach_id)
);

-- Listing, paging and replay all walk one user's alerts by id.
CREATE INDEX alerts_user_id_id ON alerts (user_id, id);
-- The unread count only touches unread rows.
CREATE INDEX alerts_user_unread ON alerts (user_id, id) WHERE NOT read;

-- Opaque API tokens: only a SHA-256 of the token is kept.
CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);

-- Values the server generates once and must keep across restarts
-- (the development JWT secret and service key).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
