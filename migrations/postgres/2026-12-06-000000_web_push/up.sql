-- Web Push (contract §6). The schedule lives in the alert row itself, so
-- the trigger's group commit sets it in the same INSERT (no extra
-- statement on the hot path):
--   push_due_at          when the alert is next due for a push attempt;
--                        NULL = nothing (more) to push (below the minimum
--                        severity, pushed, given up, or read before due)
--   push_claimed_by      the node that claimed it, until push_claimed_until
--                        (a node that dies leaves it to another after that)
--   push_attempts        attempts so far, for the retry backoff
ALTER TABLE alerts ADD COLUMN push_due_at TIMESTAMP;
ALTER TABLE alerts ADD COLUMN push_claimed_by TEXT;
ALTER TABLE alerts ADD COLUMN push_claimed_until TIMESTAMP;
ALTER TABLE alerts ADD COLUMN push_attempts INTEGER NOT NULL DEFAULT 0;
-- The poller's only scan: alerts still to push, by due time.
CREATE INDEX alerts_push_due ON alerts (push_due_at) WHERE push_due_at IS NOT NULL;

-- A browser's PushSubscription. An endpoint belongs to one browser
-- profile, so to one user at a time: whoever subscribes it last owns it.
CREATE TABLE push_subscriptions (
    id         BIGSERIAL PRIMARY KEY,
    user_id    TEXT NOT NULL,
    endpoint   TEXT NOT NULL UNIQUE,
    p256dh     TEXT NOT NULL,
    auth       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id);

-- What became of an alert at one subscription ('sent' or 'failed') while
-- the alert is still to be retried: a retry, or a takeover from a dead node,
-- skips these, so each subscription gets it once. Deleted when it is done.
CREATE TABLE push_deliveries (
    alert_id        BIGINT NOT NULL,
    subscription_id BIGINT NOT NULL,
    outcome         TEXT NOT NULL,
    PRIMARY KEY (alert_id, subscription_id)
);
