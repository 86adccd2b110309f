-- Contract §5. A label for tokens minted over REST, and revocation found
-- by user (sign-out revokes every token of a user).
ALTER TABLE api_tokens ADD COLUMN label TEXT;
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- "Sign out everywhere": JWTs of the user issued before `signed_out_at`
-- are refused, on every node and after a restart. One row per user, the
-- latest sign-out.
CREATE TABLE user_sign_outs (
    user_id       TEXT PRIMARY KEY NOT NULL,
    signed_out_at TIMESTAMP NOT NULL
);
