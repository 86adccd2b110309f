//! The operator interface of the contract (§4): every setting is an
//! environment variable that a command-line flag of the same name
//! overrides (clap's `env` support does exactly that).

use std::path::PathBuf;

use clap::Args;

use crate::rate_limit::rest::RestRateLimit;

/// The operator interface of the contract, section 4.
#[derive(Debug, Clone, Args)]
pub struct Options {
    /// Listen address.
    #[arg(
        long,
        env = "ALERTHUB_BIND",
        default_value = "127.0.0.1:8000",
        global = true
    )]
    pub bind: String,
    /// A second listen address for the services (triggers, sign-outs,
    /// tokens) and the operators' probes, with HTTP workers of its own: a
    /// reconnect storm of browsers on `--bind` then never delays a trigger.
    /// It serves the same API; unset: everything on `--bind`.
    #[arg(long, env = "ALERTHUB_SERVICE_BIND", global = true)]
    pub service_bind: Option<String>,
    /// sqlite://PATH (or a bare path) or postgres://…
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://alerthub.db",
        global = true
    )]
    pub database_url: String,
    /// Enables multi-node mode: one redis:// URL, or several independent
    /// Redis shards, comma-separated (same list, same order on every node).
    #[arg(long, env = "REDIS_URL", hide_env_values = true, global = true)]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel.
    #[arg(
        long,
        env = "ALERTHUB_REDIS_PREFIX",
        default_value = "alerthub:",
        global = true
    )]
    pub redis_prefix: String,
    /// Seconds an ingest entry may stay pending (its node died) before another node takes it over.
    #[arg(
        long,
        env = "ALERTHUB_INGEST_CLAIM_IDLE_SECS",
        default_value_t = 30,
        global = true
    )]
    pub ingest_claim_idle_secs: u64,
    /// HS256 secret (Django's SECRET_KEY works).
    #[arg(
        long,
        env = "ALERTHUB_JWT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub jwt_secret: Option<String>,
    /// Path to a PEM public key: enables RS256 or ES256.
    #[arg(long, env = "ALERTHUB_JWT_PUBLIC_KEY", global = true)]
    pub jwt_public_key: Option<PathBuf>,
    /// Claim that names the user.
    #[arg(
        long,
        env = "ALERTHUB_JWT_USER_CLAIM",
        default_value = "user_id",
        global = true
    )]
    pub jwt_user_claim: String,
    /// Comma-separated keys for the trigger endpoint.
    #[arg(
        long,
        env = "ALERTHUB_SERVICE_KEYS",
        hide_env_values = true,
        global = true
    )]
    pub service_keys: Option<String>,
    /// Comma-separated origins; unset or `*` allows any.
    #[arg(long, env = "ALERTHUB_ALLOWED_ORIGINS", global = true)]
    pub allowed_origins: Option<String>,
    /// Connection attempts per user per 60 s.
    #[arg(
        long,
        env = "ALERTHUB_CONNECT_LIMIT",
        default_value_t = 10,
        global = true
    )]
    pub connect_limit: u32,
    /// Open sessions per user.
    #[arg(
        long,
        env = "ALERTHUB_MAX_SESSIONS_PER_USER",
        default_value_t = 20,
        global = true
    )]
    pub max_sessions_per_user: usize,
    /// Calls per second per user to the REST endpoints that take a user
    /// token, as RATE or RATE/BURST (RATE alone: burst twice the rate).
    #[arg(
        long,
        env = "ALERTHUB_REST_RATE_LIMIT",
        default_value = "20/40",
        value_name = "RATE[/BURST]",
        global = true
    )]
    pub rest_rate_limit: RestRateLimit,
    /// Database connections in the pool (and threads of the DB actor).
    #[arg(
        long,
        env = "ALERTHUB_DB_POOL_SIZE",
        default_value_t = 4,
        global = true
    )]
    pub db_pool_size: u32,
    /// Seconds to wait for a database connection before answering 503.
    #[arg(
        long,
        env = "ALERTHUB_DB_TIMEOUT_SECS",
        default_value_t = 3,
        global = true
    )]
    pub db_timeout_secs: u64,
    /// Delete read alerts older than this many days (unset: keep forever).
    #[arg(long, env = "ALERTHUB_RETENTION_DAYS", global = true)]
    pub retention_days: Option<u32>,
    /// For tests only: the length of a retention "day" in seconds.
    #[arg(
        long,
        env = "ALERTHUB_RETENTION_UNIT_SECS",
        default_value_t = 86_400,
        hide = true,
        global = true
    )]
    pub retention_unit_secs: u64,
    /// RFC 7662 endpoint that checks opaque tokens alerthub did not issue
    /// (e.g. Django REST Framework tokens); unset: such tokens are refused.
    #[arg(long, env = "ALERTHUB_TOKEN_INTROSPECTION_URL", global = true)]
    pub token_introspection_url: Option<String>,
    /// The `Authorization` header value sent to the introspection endpoint.
    #[arg(
        long,
        env = "ALERTHUB_TOKEN_INTROSPECTION_AUTH",
        hide_env_values = true,
        global = true
    )]
    pub token_introspection_auth: Option<String>,
    /// Seconds between re-checks of a live session opened with an
    /// introspected token (1–60); also how long an answer is cached.
    #[arg(
        long,
        env = "ALERTHUB_TOKEN_INTROSPECTION_RECHECK_SECS",
        default_value_t = 60,
        global = true
    )]
    pub token_introspection_recheck_secs: u64,
    /// Log one line per request (method, path without the query, status,
    /// duration, user) at INFO, target alerthub::access (1, true, yes, on).
    #[arg(long, env = "ALERTHUB_ACCESS_LOG", global = true, value_parser = clap::builder::BoolishValueParser::new(),
          action = clap::ArgAction::SetTrue)]
    pub access_log: bool,
    /// Name of this node in /health and logs (default: a random id).
    #[arg(long, env = "ALERTHUB_NODE_ID", global = true)]
    pub node_id: Option<String>,
    /// Allow generated secrets even on a non-loopback bind address
    /// (ALERTHUB_DEV=1, true, yes or on).
    #[arg(long, env = "ALERTHUB_DEV", global = true, value_parser = clap::builder::BoolishValueParser::new(),
          action = clap::ArgAction::SetTrue)]
    pub dev: bool,
    /// Web Push: path to the VAPID P-256 private key (PEM). Unset: a
    /// development server generates one and keeps it in the database; any
    /// other server sends no pushes.
    #[arg(long, env = "ALERTHUB_VAPID_PRIVATE_KEY", global = true)]
    pub vapid_private_key: Option<PathBuf>,
    /// Web Push: who runs this server, `mailto:…` or `https:…` (sent to push services).
    #[arg(long, env = "ALERTHUB_VAPID_SUBJECT", global = true)]
    pub vapid_subject: Option<String>,
    /// Web Push: seconds an alert must stay unread before it is pushed (0 = at once).
    #[arg(long, env = "ALERTHUB_PUSH_DELAY", default_value_t = 30, global = true)]
    pub push_delay: u64,
    /// Web Push: least severity pushed (LOW, MEDIUM, HIGH, CRITICAL).
    #[arg(
        long,
        env = "ALERTHUB_PUSH_MIN_SEVERITY",
        default_value = "LOW",
        global = true
    )]
    pub push_min_severity: String,
    /// Web Push: `full` (the alert) or `minimal` (id and severity only).
    #[arg(
        long,
        env = "ALERTHUB_PUSH_PAYLOAD",
        default_value = "full",
        global = true
    )]
    pub push_payload: String,
    /// Web Push: seconds a push service keeps an undelivered message, and
    /// how long failed sends are retried.
    #[arg(
        long,
        env = "ALERTHUB_PUSH_TTL",
        default_value_t = 86400,
        global = true
    )]
    pub push_ttl: u64,
    /// Web Push: accept http:// endpoints on loopback hosts (tests only).
    #[arg(long, env = "ALERTHUB_PUSH_ALLOW_INSECURE", global = true, value_parser = clap::builder::BoolishValueParser::new(),
          action = clap::ArgAction::SetTrue)]
    pub push_allow_insecure: bool,
}
