-- Each stored alert used to dirty, for its user, a page of three indexes:
-- (user_id, breach_id), (user_id, id) and the partial unread index. The
-- grouped insert is bound by those pages (docs/BENCHMARKS.md, "Tenth
-- session"), so the unread count is now kept per user, in the same
-- transaction as every change to it (these triggers: every writer, the
-- CLI included, keeps it right), and one covering (user_id, id, read)
-- index serves the list, the unread page, the replay and mark-all-read.
-- A stored alert now dirties two index pages and one counter row, whose
-- few pages stay hot. Counting is one lookup however long the history.
CREATE TABLE user_unread (
    user_id TEXT    PRIMARY KEY NOT NULL,
    unread  INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO user_unread (user_id, unread)
    SELECT user_id, count(*) FROM alerts WHERE read = 0 GROUP BY user_id;

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

DROP INDEX alerts_user_unread;
DROP INDEX alerts_user_id_id;
CREATE INDEX alerts_user_id_read ON alerts (user_id, id, read);
