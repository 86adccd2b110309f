DROP INDEX alerts_user_id_read;
CREATE INDEX alerts_user_id_id ON alerts (user_id, id);
CREATE INDEX alerts_user_unread ON alerts (user_id, id) WHERE read = 0;
DROP TRIGGER alerts_unread_on_delete;
DROP TRIGGER alerts_unread_on_update;
DROP TRIGGER alerts_unread_on_insert;
DROP TABLE user_unread;
