-- Back to the pair's index leading with the user (the table rebuilt again).
DROP TRIGGER alerts_unread_on_insert;
DROP TRIGGER alerts_unread_on_update;
DROP TRIGGER alerts_unread_on_delete;

CREATE TABLE alerts_new (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id            TEXT    NOT NULL,
    breach_id          TEXT    NOT NULL,
    title              TEXT    NOT NULL,
    severity           TEXT    NOT NULL,
    confidence         DOUBLE  NOT NULL,
    detected_at        TIMESTAMP NOT NULL,
    description        TEXT,
    source             TEXT,
    read               BOOLEAN NOT NULL DEFAULT 0,
    created_at         TIMESTAMP NOT NULL,
    push_due_at        TIMESTAMP,
    push_claimed_by    TEXT,
    push_claimed_until TIMESTAMP,
    push_attempts      INTEGER NOT NULL DEFAULT 0,
    UNIQUE (user_id, breach_id)
);

INSERT INTO alerts_new (id, user_id, breach_id, title, severity, confidence,
        detected_at, description, source, read, created_at, push_due_at,
        push_claimed_by, push_claimed_until, push_attempts)
    SELECT id, user_id, breach_id, title, severity, confidence,
        detected_at, description, source, read, created_at, push_due_at,
        push_claimed_by, push_claimed_until, push_attempts
    FROM alerts ORDER BY id;

-- Ids are never reused, even those of deleted alerts: the new table goes
-- on from the old one's sequence (the rename carries it over).
DELETE FROM sqlite_sequence WHERE name = 'alerts_new';
UPDATE sqlite_sequence SET name = 'alerts_new' WHERE name = 'alerts';

DROP TABLE alerts;
ALTER TABLE alerts_new RENAME TO alerts;

CREATE INDEX alerts_user_id_read ON alerts (user_id, id, read);
CREATE INDEX alerts_push_due ON alerts (push_due_at) WHERE push_due_at IS NOT NULL;
CREATE INDEX alerts_push_lease ON alerts (push_claimed_until) WHERE push_claimed_until IS NOT NULL;

CREATE TRIGGER alerts_unread_on_insert AFTER INSERT ON alerts
WHEN NEW.read = 0
BEGIN
    INSERT INTO user_unread (user_id, unread) VALUES (NEW.user_id, 1)
        ON CONFLICT (user_id) DO UPDATE SET unread = unread + 1;
END;

CREATE TRIGGER alerts_unread_on_update AFTER UPDATE OF read ON alerts
WHEN (OLD.read = 0) <> (NEW.read = 0)
BEGIN
    INSERT INTO user_unread (user_id, unread)
        VALUES (NEW.user_id, CASE WHEN NEW.read = 0 THEN 1 ELSE -1 END)
        ON CONFLICT (user_id) DO UPDATE SET unread = unread + excluded.unread;
END;

CREATE TRIGGER alerts_unread_on_delete AFTER DELETE ON alerts
WHEN OLD.read = 0
BEGIN
    UPDATE user_unread SET unread = unread - 1 WHERE user_id = OLD.user_id;
END;
