DROP TABLE user_sign_outs;
DROP INDEX api_tokens_user;
ALTER TABLE api_tokens DROP COLUMN label;
