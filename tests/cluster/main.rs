//! Multi-node tests (contract §3): two or three real `alerthub` processes
//! on different ports sharing one PostgreSQL database and a real Redis,
//! keys under a per-test prefix.
//!
//! They run when both `ALERTHUB_TEST_DATABASE_URL` (postgres://…) and
//! `ALERTHUB_TEST_REDIS_URL` are set (`.ci/run` sets them), and print
//! `SKIPPED` otherwise. Tests that restart Redis start their own
//! `redis-server` on a spare port; the nginx test needs Debian's nginx.
//! `sharded.rs` runs the suite's core on several Redis shards, each its own
//! `redis-server` on a spare port. `greeting.rs` puts a slow link (a TCP
//! proxy on loopback) between one node and the shared Redis.

mod fanout;
mod greeting;
mod ingest;
mod metrics;
mod nginx;
mod nodes;
mod push;
mod redis_outage;
mod sessions;
mod sharded;
