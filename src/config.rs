//! Configuration in one typed place.
//!
//! Every operator setting is an environment variable that a command-line flag
//! may override (clap's `env` support does exactly that); `Settings` is what
//! the rest of the code reads. Tunables that only tests need to shorten
//! (heartbeat timing, queue bounds) live in `Limits`, with the contract's
//! values as defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::rest_limit::RestRateLimit;
use crate::storage::{DatabaseUrl, PoolOptions, StorageError};

#[derive(Debug, Parser)]
#[command(
    name = "alerthub",
    version,
    about = "Real-time security alerts over WebSocket"
)]
pub struct Cli {
    #[command(flatten)]
    pub options: Options,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (applies migrations first). The default command.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Trigger a test alert through the running server, so live sessions see it.
    SendTestAlert {
        user_id: String,
        #[arg(long, default_value = "HIGH")]
        severity: String,
        /// Base URL of the running server; defaults to http://ALERTHUB_BIND.
        #[arg(long)]
        url: Option<String>,
    },
    /// Manage user tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an opaque API token for a user and print it alone on stdout.
    Create { user_id: String },
    /// Revoke an opaque API token.
    Revoke { token: String },
    /// Print a JWT signed with the configured HS256 secret.
    Jwt {
        user_id: String,
        /// Lifetime, e.g. 30m, 1h, 7d.
        #[arg(long, default_value = "1h", value_parser = parse_ttl)]
        ttl: Duration,
    },
}

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
    /// sqlite://PATH (or a bare path) or postgres://…
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://alerthub.db",
        global = true
    )]
    pub database_url: String,
    /// Enables multi-node mode.
    #[arg(long, env = "REDIS_URL", global = true)]
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
    /// Name of this node in /health and logs (default: a random id).
    #[arg(long, env = "ALERTHUB_NODE_ID", global = true)]
    pub node_id: Option<String>,
    /// Allow generated secrets even on a non-loopback bind address
    /// (ALERTHUB_DEV=1, true, yes or on).
    #[arg(long, env = "ALERTHUB_DEV", global = true, value_parser = clap::builder::BoolishValueParser::new(),
          action = clap::ArgAction::SetTrue)]
    pub dev: bool,
}

/// Timing and size limits of a session; the contract's numbers by default.
#[derive(Debug, Clone)]
pub struct Limits {
    pub heartbeat_interval: Duration,
    pub client_timeout: Duration,
    pub max_frame_bytes: usize,
    pub messages_per_second: u32,
    pub message_burst: u32,
    /// Frames queued for one session (waiting to be handled, held during a
    /// replay, or waiting for the kernel) before it is closed with 1013.
    pub outbound_queue: usize,
    /// Bytes waiting for the kernel before a session is closed with 1013: a
    /// backstop above what 1,024 frames of the largest alert take (about
    /// 4.5 MiB), so the frame bound of the contract is what normally acts.
    pub outbound_bytes: usize,
    /// The kernel send buffer of each WebSocket (`SO_SNDBUF`).
    pub socket_send_buffer: usize,
    /// How long a close frame may take to reach a peer (and its answer to
    /// come back) before the connection is dropped.
    pub close_deadline: Duration,
    pub replay_max: i64,
    pub connect_window: Duration,
    /// How long a request body may take to arrive, in all, once its
    /// headers have: a sender that stalls half-way gets 408.
    pub body_read_timeout: Duration,
    /// How long a node trusts what it looked up about an opaque token.
    pub token_cache_ttl: Duration,
    /// Database lookups of tagged opaque tokens that missed the cache, per
    /// node: the token bucket's rate and burst.
    pub token_lookups_per_second: u32,
    pub token_lookup_burst: u32,
    /// The same for untagged (legacy) opaque tokens, in a bucket of their own.
    pub legacy_token_lookups_per_second: u32,
    pub legacy_token_lookup_burst: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_secs(15),
            client_timeout: Duration::from_secs(45),
            max_frame_bytes: 64 * 1024,
            messages_per_second: 20,
            message_burst: 40,
            outbound_queue: 1024,
            outbound_bytes: 8 * 1024 * 1024,
            socket_send_buffer: 128 * 1024,
            close_deadline: Duration::from_secs(1),
            replay_max: 1000,
            connect_window: Duration::from_secs(60),
            body_read_timeout: Duration::from_secs(10),
            token_cache_ttl: Duration::from_secs(1),
            token_lookups_per_second: 200,
            token_lookup_burst: 400,
            legacy_token_lookups_per_second: 10,
            legacy_token_lookup_burst: 20,
        }
    }
}

/// Everything the server needs to start, parsed and checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: String,
    pub database: DatabaseUrl,
    pub pool: PoolOptions,
    pub redis_url: Option<String>,
    pub redis_prefix: String,
    pub ingest_claim_idle: Duration,
    pub jwt_secret: Option<String>,
    pub jwt_public_key: Option<PathBuf>,
    pub jwt_user_claim: String,
    pub service_keys: Vec<String>,
    /// `None` allows any origin.
    pub allowed_origins: Option<Vec<String>>,
    pub connect_limit: u32,
    pub max_sessions_per_user: usize,
    pub rest_rate_limit: RestRateLimit,
    pub node_id: String,
    /// Generate missing secrets (and keep them in the database) instead of
    /// refusing to start.
    pub dev_secrets_allowed: bool,
    pub limits: Limits,
    /// HTTP worker threads; `None` means one per core.
    pub workers: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Database(#[from] StorageError),
    #[error("ALERTHUB_BIND {0:?} is not an address such as 127.0.0.1:8000")]
    Bind(String),
    #[error("{0} is 0; it must be at least 1 ({1})")]
    Zero(&'static str, &'static str),
}

/// Refuses 0 for a setting where it would silently mean something else
/// (no cap, a pool that cannot serve, a timeout that fails everything).
fn at_least_one<T: PartialEq + From<u8> + Copy>(
    value: T,
    name: &'static str,
    why: &'static str,
) -> Result<T, ConfigError> {
    if value == T::from(0) {
        Err(ConfigError::Zero(name, why))
    } else {
        Ok(value)
    }
}

impl Settings {
    pub fn from_options(o: &Options) -> Result<Self, ConfigError> {
        let bind_addr: SocketAddr = o
            .bind
            .parse()
            .map_err(|_| ConfigError::Bind(o.bind.clone()))?;
        let list = |v: &Option<String>| -> Vec<String> {
            v.as_deref()
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let origins = list(&o.allowed_origins);
        let allowed_origins = if origins.is_empty() || origins.iter().any(|s| s == "*") {
            None
        } else {
            Some(
                origins
                    .into_iter()
                    .map(|s| s.trim_end_matches('/').to_owned())
                    .collect(),
            )
        };
        let max_sessions_per_user = at_least_one(
            o.max_sessions_per_user,
            "ALERTHUB_MAX_SESSIONS_PER_USER",
            "0 would admit no session at all",
        )?;
        let connect_limit = at_least_one(
            o.connect_limit,
            "ALERTHUB_CONNECT_LIMIT",
            "0 would refuse every connection",
        )?;
        let pool_size = at_least_one(
            o.db_pool_size,
            "ALERTHUB_DB_POOL_SIZE",
            "the server needs a database connection",
        )?;
        let db_timeout = at_least_one(
            o.db_timeout_secs,
            "ALERTHUB_DB_TIMEOUT_SECS",
            "0 would fail every request that waits for a connection",
        )?;
        let claim_idle = at_least_one(
            o.ingest_claim_idle_secs,
            "ALERTHUB_INGEST_CLAIM_IDLE_SECS",
            "0 would take entries away from nodes that are still storing them",
        )?;
        Ok(Self {
            bind: o.bind.clone(),
            database: DatabaseUrl::parse(&o.database_url)?,
            pool: PoolOptions {
                max_size: pool_size,
                connect_timeout: Duration::from_secs(db_timeout),
            },
            redis_url: o.redis_url.clone().filter(|s| !s.is_empty()),
            redis_prefix: o.redis_prefix.clone(),
            ingest_claim_idle: Duration::from_secs(claim_idle),
            jwt_secret: o.jwt_secret.clone().filter(|s| !s.is_empty()),
            jwt_public_key: o.jwt_public_key.clone(),
            jwt_user_claim: o.jwt_user_claim.clone(),
            service_keys: list(&o.service_keys),
            allowed_origins,
            connect_limit,
            max_sessions_per_user,
            rest_rate_limit: o.rest_rate_limit,
            // Two nodes with one id would ignore each other's events: an
            // empty id is treated as none.
            node_id: o
                .node_id
                .clone()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(random_node_id),
            dev_secrets_allowed: o.dev || bind_addr.ip().is_loopback(),
            limits: Limits::default(),
            workers: None,
        })
    }
}

fn random_node_id() -> String {
    let mut b = [0u8; 4];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
    format!("node-{}", hex::encode(b))
}

/// `30s`, `15m`, `1h`, `7d` or plain seconds.
pub fn parse_ttl(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let (num, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{raw:?} is not a duration such as 1h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(format!("{raw:?}: unit must be s, m, h or d")),
    };
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_parse() {
        assert_eq!(parse_ttl("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_ttl("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_ttl("2d").unwrap(), Duration::from_secs(172_800));
        assert!(parse_ttl("1y").is_err());
        assert!(parse_ttl("h").is_err());
    }

    fn options(args: &[&str]) -> Options {
        Cli::try_parse_from(std::iter::once("alerthub").chain(args.iter().copied()))
            .unwrap()
            .options
    }

    #[test]
    fn origins_star_or_unset_mean_any() {
        let s = Settings::from_options(&options(&["--allowed-origins", "*"])).unwrap();
        assert!(s.allowed_origins.is_none());
        let s = Settings::from_options(&options(&[
            "--allowed-origins",
            "https://a.example/, http://b:3000",
        ]))
        .unwrap();
        assert_eq!(
            s.allowed_origins.unwrap(),
            ["https://a.example", "http://b:3000"]
        );
    }

    #[test]
    fn a_request_body_gets_ten_seconds_by_default() {
        assert_eq!(Limits::default().body_read_timeout, Duration::from_secs(10));
    }

    #[test]
    fn zero_limits_are_refused_naming_the_variable() {
        for (flag, variable) in [
            ("--max-sessions-per-user", "ALERTHUB_MAX_SESSIONS_PER_USER"),
            ("--connect-limit", "ALERTHUB_CONNECT_LIMIT"),
            ("--db-pool-size", "ALERTHUB_DB_POOL_SIZE"),
            ("--db-timeout-secs", "ALERTHUB_DB_TIMEOUT_SECS"),
            (
                "--ingest-claim-idle-secs",
                "ALERTHUB_INGEST_CLAIM_IDLE_SECS",
            ),
        ] {
            let e = Settings::from_options(&options(&[flag, "0"])).unwrap_err();
            assert!(
                e.to_string().starts_with(&format!("{variable} is 0")),
                "{e}"
            );
            assert!(Settings::from_options(&options(&[flag, "1"])).is_ok());
        }
    }

    #[test]
    fn dev_secrets_only_on_loopback_unless_asked() {
        assert!(
            Settings::from_options(&options(&[]))
                .unwrap()
                .dev_secrets_allowed
        );
        assert!(
            !Settings::from_options(&options(&["--bind", "0.0.0.0:8000"]))
                .unwrap()
                .dev_secrets_allowed
        );
        assert!(
            Settings::from_options(&options(&["--bind", "0.0.0.0:8000", "--dev"]))
                .unwrap()
                .dev_secrets_allowed
        );
    }
}
