//! Prometheus metrics, in a registry of their own per server instance so
//! that several servers in one test process do not share counters.
//!
//! Every labelled series is created at 0 when the registry is built, so
//! dashboards and alert rules (`deploy/`) see it before its first event.
//! The process metrics (`process_open_fds`, `process_max_fds`,
//! `process_resident_memory_bytes`, `process_cpu_seconds_total`, …) are read
//! from `/proc/self` at scrape (`process`).

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use super::node_gauges::NodeGauges;
use super::process::ProcessMetrics;

/// Why a handshake was turned away, as the `reason` label.
#[derive(Debug, Clone, Copy)]
pub enum Rejection {
    AuthenticationFailed,
    UserMismatch,
    RateLimited,
    TooManySessions,
    Origin,
    Unavailable,
}

impl Rejection {
    pub const ALL: [Rejection; 6] = [
        Self::AuthenticationFailed,
        Self::UserMismatch,
        Self::RateLimited,
        Self::TooManySessions,
        Self::Origin,
        Self::Unavailable,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::AuthenticationFailed => "authentication_failed",
            Self::UserMismatch => "user_mismatch",
            Self::RateLimited => "rate_limited",
            Self::TooManySessions => "too_many_sessions",
            Self::Origin => "origin",
            Self::Unavailable => "unavailable",
        }
    }
}

/// Why an accepted session ended, as the `reason` label of
/// `alerthub_sessions_closed_total`. Every reason is exported from start,
/// at 0, so dashboards and alert rules see the series before the first event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseWhy {
    /// The client closed, or its connection went away.
    Client,
    /// Nothing arrived from the client within the heartbeat timeout (1001).
    Heartbeat,
    /// The client fell behind the outbound bound (1013).
    SlowConsumer,
    /// A protocol violation: oversized, binary, fragmented or invalid frames.
    Protocol,
    /// The connect rate or the session cap (4029).
    RateLimited,
    /// The server is shutting down (1001).
    Shutdown,
    /// The session's JWT reached its `exp` (4001).
    Expired,
    /// The session's opaque token was revoked (4003 `token revoked`).
    Revoked,
    /// The user was signed out everywhere (4003 `signed out`).
    SignedOut,
}

impl CloseWhy {
    pub const ALL: [CloseWhy; 9] = [
        Self::Client,
        Self::Heartbeat,
        Self::SlowConsumer,
        Self::Protocol,
        Self::RateLimited,
        Self::Shutdown,
        Self::Expired,
        Self::Revoked,
        Self::SignedOut,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Heartbeat => "heartbeat",
            Self::SlowConsumer => "slow_consumer",
            Self::Protocol => "protocol",
            Self::RateLimited => "rate_limited",
            Self::Shutdown => "shutdown",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::SignedOut => "signed_out",
        }
    }
}

/// What became of an opaque token presented to this node (`token_lookup`),
/// as the `outcome` label.
#[derive(Debug, Clone, Copy)]
pub enum TokenCheck {
    /// Not a token alerthub issued (no valid tag): refused with no query.
    Forged,
    /// Answered from the short-lived cache.
    Cached,
    /// Looked up in the database.
    Queried,
    /// Not looked up: the lookup budget was spent (answered 503).
    Throttled,
}

impl TokenCheck {
    pub const ALL: [TokenCheck; 4] = [Self::Forged, Self::Cached, Self::Queried, Self::Throttled];

    fn label(self) -> &'static str {
        match self {
            Self::Forged => "forged",
            Self::Cached => "cached",
            Self::Queried => "queried",
            Self::Throttled => "throttled",
        }
    }
}

pub struct Metrics {
    registry: Registry,
    pub connections: IntGauge,
    pub users: IntGauge,
    pub alerts_created: IntCounter,
    pub messages_sent: IntCounter,
    rejected_handshakes: IntCounterVec,
    sessions_closed: IntCounterVec,
    pub trigger_to_send: Histogram,
    pub hub_restarts: IntCounter,
    pub slow_consumers: IntCounter,
    pub client_messages_dropped: IntCounter,
    pub ingest_stored: IntCounter,
    pub ingest_invalid: IntCounter,
    pub db_queries: IntCounter,
    token_checks: IntCounterVec,
    pub rest_rate_limited: IntCounter,
    pub retention_deleted: IntCounter,
    /// Build, database and Redis gauges, set at scrape.
    pub node: NodeGauges,
    pub push_sent: IntCounter,
    pub push_failed: IntCounter,
    pub push_expired_subscriptions: IntCounter,
    process: ProcessMetrics,
}

impl Metrics {
    /// The metrics of a node without Redis.
    pub fn new() -> Self {
        Self::for_node(false)
    }

    /// The metrics of a node; `with_redis` adds the Redis and ingest gauges.
    pub fn for_node(with_redis: bool) -> Self {
        let registry = Registry::new();
        let connections = IntGauge::new(
            "alerthub_open_connections",
            "Open, accepted WebSocket sessions",
        )
        .unwrap();
        let users = IntGauge::new(
            "alerthub_connected_users",
            "Users with at least one open session",
        )
        .unwrap();
        let alerts_created = IntCounter::new(
            "alerthub_alerts_created_total",
            "Alerts stored for the first time",
        )
        .unwrap();
        let messages_sent = IntCounter::new(
            "alerthub_messages_sent_total",
            "WebSocket text frames sent to clients",
        )
        .unwrap();
        let rejected_handshakes = IntCounterVec::new(
            Opts::new(
                "alerthub_rejected_handshakes_total",
                "WebSocket handshakes refused, by reason",
            ),
            &["reason"],
        )
        .unwrap();
        for why in Rejection::ALL {
            rejected_handshakes.with_label_values(&[why.label()]);
        }
        let sessions_closed = IntCounterVec::new(
            Opts::new(
                "alerthub_sessions_closed_total",
                "Accepted WebSocket sessions that ended, by reason",
            ),
            &["reason"],
        )
        .unwrap();
        for why in CloseWhy::ALL {
            sessions_closed.with_label_values(&[why.label()]);
        }
        let trigger_to_send = Histogram::with_opts(
            HistogramOpts::new(
                "alerthub_trigger_to_send_seconds",
                "Time from receiving a trigger to handing the alert to a session's socket",
            )
            .buckets(vec![
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
        )
        .unwrap();
        let hub_restarts = IntCounter::new(
            "alerthub_hub_restarts_total",
            "User hubs restarted after a crash",
        )
        .unwrap();
        let slow_consumers = IntCounter::new(
            "alerthub_slow_consumers_total",
            "Sessions closed with 1013 for falling behind",
        )
        .unwrap();
        let client_messages_dropped = IntCounter::new(
            "alerthub_client_messages_rate_limited_total",
            "Client messages dropped by the per-session rate limit",
        )
        .unwrap();
        let ingest_stored = IntCounter::new(
            "alerthub_ingest_stored_total",
            "Entries of the Redis ingest stream stored and acknowledged",
        )
        .unwrap();
        let ingest_invalid = IntCounter::new(
            "alerthub_ingest_invalid_total",
            "Entries of the Redis ingest stream that cannot be stored (invalid, or refused by the database), acknowledged and dropped",
        )
        .unwrap();
        let db_queries = IntCounter::new(
            "alerthub_db_queries_total",
            "SQL statements run on the database pool's connections",
        )
        .unwrap();
        let token_checks = IntCounterVec::new(
            Opts::new(
                "alerthub_opaque_token_checks_total",
                "Opaque tokens presented, by what became of them",
            ),
            &["outcome"],
        )
        .unwrap();
        for outcome in TokenCheck::ALL {
            token_checks.with_label_values(&[outcome.label()]);
        }
        let rest_rate_limited = IntCounter::new(
            "alerthub_rest_rate_limited_total",
            "REST calls of users answered 429 by the per-user rate limit",
        )
        .unwrap();
        let retention_deleted = IntCounter::new(
            "alerthub_retention_deleted_total",
            "Read alerts deleted by retention (ALERTHUB_RETENTION_DAYS)",
        )
        .unwrap();
        let push_sent = IntCounter::new(
            "alerthub_push_sent_total",
            "Web Push messages a push service accepted",
        )
        .unwrap();
        let push_failed = IntCounter::new(
            "alerthub_push_failed_total",
            "Web Push attempts that did not deliver: retried (429, 5xx, no answer) or refused (other 4xx)",
        )
        .unwrap();
        let push_expired_subscriptions = IntCounter::new(
            "alerthub_push_expired_subscriptions_total",
            "Push subscriptions deleted because the push service answered 404 or 410",
        )
        .unwrap();
        for c in [
            Box::new(connections.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(users.clone()),
            Box::new(alerts_created.clone()),
            Box::new(messages_sent.clone()),
            Box::new(rejected_handshakes.clone()),
            Box::new(sessions_closed.clone()),
            Box::new(trigger_to_send.clone()),
            Box::new(hub_restarts.clone()),
            Box::new(slow_consumers.clone()),
            Box::new(client_messages_dropped.clone()),
            Box::new(ingest_stored.clone()),
            Box::new(ingest_invalid.clone()),
            Box::new(db_queries.clone()),
            Box::new(token_checks.clone()),
            Box::new(rest_rate_limited.clone()),
            Box::new(retention_deleted.clone()),
            Box::new(push_sent.clone()),
            Box::new(push_failed.clone()),
            Box::new(push_expired_subscriptions.clone()),
        ] {
            // Names are unique constants in this function, so registering cannot clash.
            registry.register(c).expect("metric names are unique");
        }
        let node = NodeGauges::register(&registry, with_redis);
        let process = ProcessMetrics::register(&registry);
        Self {
            registry,
            connections,
            users,
            alerts_created,
            messages_sent,
            rejected_handshakes,
            sessions_closed,
            trigger_to_send,
            hub_restarts,
            slow_consumers,
            client_messages_dropped,
            ingest_stored,
            ingest_invalid,
            db_queries,
            token_checks,
            rest_rate_limited,
            retention_deleted,
            node,
            push_sent,
            push_failed,
            push_expired_subscriptions,
            process,
        }
    }

    pub fn rejected(&self, why: Rejection) {
        self.rejected_handshakes
            .with_label_values(&[why.label()])
            .inc();
    }

    /// A session ended, for its first reason: called once per session, so
    /// `slow_consumers` counts each slow session once even when the hub's
    /// mailbox bound reports it after its own outbox bound closed it (both
    /// counted it before: 30 for 20 sessions).
    pub fn closed(&self, why: CloseWhy) {
        self.sessions_closed.with_label_values(&[why.label()]).inc();
        if why == CloseWhy::SlowConsumer {
            self.slow_consumers.inc();
        }
    }

    pub fn token_check(&self, outcome: TokenCheck) {
        self.token_checks
            .with_label_values(&[outcome.label()])
            .inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        self.process.refresh();
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metric families.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
