-- When the push poller next has work (`storage::next_push_due`) includes
-- the earliest lease still running. Only alerts claimed right now carry a
-- lease (a batch per node), so with this index the minimum is one lookup;
-- without it every poll read every alert still due (the partial index on
-- `push_due_at` finds them, but the lease is only in the row): tens of
-- milliseconds per poll with 20,000 alerts due (docs/storage.md).
CREATE INDEX alerts_push_lease ON alerts (push_claimed_until) WHERE push_claimed_until IS NOT NULL;
