DROP TABLE push_deliveries;
DROP TABLE push_subscriptions;
DROP INDEX alerts_push_due;
ALTER TABLE alerts DROP COLUMN push_attempts;
ALTER TABLE alerts DROP COLUMN push_claimed_until;
ALTER TABLE alerts DROP COLUMN push_claimed_by;
ALTER TABLE alerts DROP COLUMN push_due_at;
