//! Gauges about the node and what it depends on: the build it runs, whether
//! its database and Redis answer, and the backlog of the Redis ingest
//! stream. They are set when `/metrics` is scraped, not by a timer of their
//! own, so a scrape shows the state at that moment and an idle node does no
//! work for them. The database's state comes from the node's own storage
//! calls of the last 10 s (`storage::DbHealth`), else from a query (the
//! check `/health` runs); Redis is asked at each scrape.
//!
//! The Redis series exist only on a node with `REDIS_URL`: a single node
//! has no Redis to be down, and an alert rule on `alerthub_redis_up == 0`
//! must not fire for it.

use prometheus::core::Collector;
use prometheus::{IntGauge, IntGaugeVec, Opts, Registry};

/// What the ingest stream's consumer group holds, as read from Redis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestBacklog {
    /// Entries handed to a node and not yet acknowledged.
    pub pending: u64,
    /// Seconds since the oldest of those was added to the stream (0 if none).
    pub oldest_pending_age_secs: u64,
    /// Entries not yet handed to any node, when Redis can tell (Redis ≥ 7).
    pub undelivered: Option<u64>,
}

/// The Redis gauges of a node in multi-node mode.
pub struct RedisGauges {
    pub up: IntGauge,
    shard_up: IntGaugeVec,
    ingest_pending: IntGauge,
    ingest_oldest_pending_age: IntGauge,
    ingest_undelivered: IntGauge,
}

impl RedisGauges {
    fn new() -> Self {
        let gauge = |name: &str, help: &str| IntGauge::new(name, help).expect("valid metric name");
        Self {
            up: gauge(
                "alerthub_redis_up",
                "1 when this node's Redis pub/sub connections are up and every Redis shard answers PING, else 0",
            ),
            shard_up: IntGaugeVec::new(
                Opts::new(
                    "alerthub_redis_shard_up",
                    "Per Redis shard (0, 1, … in REDIS_URL order): 1 when this node's pub/sub connection to it is up and it answers PING, else 0",
                ),
                &["shard"],
            )
            .expect("valid metric name"),
            ingest_pending: gauge(
                "alerthub_ingest_pending",
                "Entries of the ingest stream handed to a node and not yet acknowledged (whole consumer group)",
            ),
            ingest_oldest_pending_age: gauge(
                "alerthub_ingest_oldest_pending_age_seconds",
                "Age of the oldest unacknowledged ingest entry (0 when none is pending)",
            ),
            ingest_undelivered: gauge(
                "alerthub_ingest_undelivered",
                "Entries of the ingest stream not yet handed to any node (the group's lag)",
            ),
        }
    }

    fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.up.clone()),
            Box::new(self.shard_up.clone()),
            Box::new(self.ingest_pending.clone()),
            Box::new(self.ingest_oldest_pending_age.clone()),
            Box::new(self.ingest_undelivered.clone()),
        ]
    }

    pub fn set_shard_up(&self, shard: usize, up: bool) {
        self.shard_up
            .with_label_values(&[shard.to_string().as_str()])
            .set(i64::from(up));
    }

    pub fn set_backlog(&self, backlog: IngestBacklog) {
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.ingest_pending.set(clamp(backlog.pending));
        self.ingest_oldest_pending_age
            .set(clamp(backlog.oldest_pending_age_secs));
        if let Some(n) = backlog.undelivered {
            self.ingest_undelivered.set(clamp(n));
        }
    }
}

/// The node's own gauges: build, database, and Redis where configured.
pub struct NodeGauges {
    pub database_up: IntGauge,
    pub redis: Option<RedisGauges>,
}

impl NodeGauges {
    /// Registers the gauges in `registry`. `alerthub_build_info` is 1, with
    /// the version and the build profile as labels.
    pub fn register(registry: &Registry, with_redis: bool) -> Self {
        let build_info = IntGaugeVec::new(
            Opts::new(
                "alerthub_build_info",
                "Always 1; the labels say which build this node runs",
            ),
            &["version", "profile"],
        )
        .expect("valid metric name");
        let profile = if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        };
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), profile])
            .set(1);
        let database_up = IntGauge::new(
            "alerthub_database_up",
            "1 when the database answered this node's last check (at the last scrape), else 0",
        )
        .expect("valid metric name");
        let redis = with_redis.then(RedisGauges::new);
        let mut collectors: Vec<Box<dyn Collector>> =
            vec![Box::new(build_info), Box::new(database_up.clone())];
        if let Some(r) = &redis {
            collectors.extend(r.collectors());
        }
        for c in collectors {
            // Names are unique constants of this crate, so registering cannot clash.
            registry.register(c).expect("metric names are unique");
        }
        Self { database_up, redis }
    }
}
