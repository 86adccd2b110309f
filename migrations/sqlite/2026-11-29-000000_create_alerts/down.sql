DROP TABLE settings;
DROP TABLE api_tokens;
DROP TABLE alerts;
