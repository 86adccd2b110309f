//! Configuration in one typed place.
//!
//! Every operator setting is an environment variable that a command-line flag
//! may override (clap's `env` support does exactly that); `Settings` is what
//! the rest of the code reads. Tunables that only tests need to shorten
//! (heartbeat timing, queue bounds) live in `Limits`, with the contract's
//! values as defaults.

pub mod limits;
pub mod options;
pub mod push;
pub mod push_settings;
pub mod secrets;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use self::limits::Limits;
pub use self::options::Options;
pub use self::push_settings::PushSettings;
use crate::rate_limit::rest::RestRateLimit;
use crate::storage::{DatabaseUrl, PoolOptions, StorageError};

/// Everything the server needs to start, parsed and checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: String,
    /// `ALERTHUB_SERVICE_BIND`: the services' own listener, if any.
    pub service_bind: Option<String>,
    pub database: DatabaseUrl,
    pub pool: PoolOptions,
    /// One Redis URL per shard, in the order given (the order is part of
    /// the shard choice); empty: no Redis, a single node.
    pub redis_urls: Vec<String>,
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
    /// Read alerts older than this are deleted (`None`: kept forever).
    pub retention: Option<Duration>,
    /// Generate missing secrets (and keep them in the database) instead of
    /// refusing to start.
    pub dev_secrets_allowed: bool,
    pub limits: Limits,
    /// HTTP worker threads; `None` means one per core.
    pub workers: Option<usize>,
    /// Web Push (contract §6).
    pub push: PushSettings,
    /// Token introspection (contract §5), when configured.
    pub introspection: Option<Introspection>,
    /// One log line per request (`http::access_log`).
    pub access_log: bool,
}

/// Where and how opaque tokens alerthub did not issue are checked.
#[derive(Clone)]
pub struct Introspection {
    pub url: String,
    /// The `Authorization` header value: a secret, never printed.
    pub auth: Option<String>,
    /// How often a live session's token is checked again, and how long an
    /// answer is cached (at most 60 s, the contract's bound).
    pub recheck: Duration,
}

impl std::fmt::Debug for Introspection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introspection")
            .field("url", &self.url)
            .field("auth", &self.auth.as_ref().map(|_| "***"))
            .field("recheck", &self.recheck)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Database(#[from] StorageError),
    #[error("ALERTHUB_BIND {0:?} is not an address such as 127.0.0.1:8000")]
    Bind(String),
    #[error("ALERTHUB_SERVICE_BIND {0:?} is not an address such as 127.0.0.1:8001")]
    ServiceBind(String),
    #[error("{0} is 0; it must be at least 1 ({1})")]
    Zero(&'static str, &'static str),
    #[error(transparent)]
    Push(#[from] self::push_settings::PushSettingsError),
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

/// The first listener reachable from outside (off loopback), the main one
/// before the services'; development secrets are allowed only with none.
fn exposed<'a>(bind: &'a str, service_bind: Option<&'a str>) -> Option<&'a str> {
    let loopback = |a: &str| a.parse::<SocketAddr>().is_ok_and(|a| a.ip().is_loopback());
    std::iter::once(bind)
        .chain(service_bind)
        .find(|a| !loopback(a))
}

impl Settings {
    /// The listener that makes this server more than a development one:
    /// the services' when only it is off loopback, else the main one.
    pub fn exposed_listener(&self) -> &str {
        exposed(&self.bind, self.service_bind.as_deref()).unwrap_or(&self.bind)
    }

    pub fn from_options(o: &Options) -> Result<Self, ConfigError> {
        o.bind
            .parse::<SocketAddr>()
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
        let retention = match o.retention_days {
            None => None,
            Some(days) => {
                let days = at_least_one(
                    days,
                    "ALERTHUB_RETENTION_DAYS",
                    "0 would delete every alert the moment it is read; leave it unset to keep alerts forever",
                )?;
                let unit = at_least_one(
                    o.retention_unit_secs,
                    "ALERTHUB_RETENTION_UNIT_SECS",
                    "a day of 0 seconds",
                )?;
                Some(Duration::from_secs(u64::from(days).saturating_mul(unit)))
            }
        };
        if let Some(service) = &o.service_bind {
            service
                .parse::<SocketAddr>()
                .map_err(|_| ConfigError::ServiceBind(service.clone()))?;
        }
        Ok(Self {
            bind: o.bind.clone(),
            service_bind: o.service_bind.clone(),
            database: DatabaseUrl::parse(&o.database_url)?,
            pool: PoolOptions {
                max_size: pool_size,
                connect_timeout: Duration::from_secs(db_timeout),
            },
            redis_urls: list(&o.redis_url),
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
            retention,
            // Generated secrets only when no listener is reachable from outside.
            dev_secrets_allowed: o.dev || exposed(&o.bind, o.service_bind.as_deref()).is_none(),
            limits: Limits::default(),
            workers: None,
            push: PushSettings::from_options(o)?,
            access_log: o.access_log,
            introspection: o
                .token_introspection_url
                .clone()
                .filter(|u| !u.trim().is_empty())
                .map(|url| Introspection {
                    url,
                    auth: o.token_introspection_auth.clone().filter(|a| !a.is_empty()),
                    recheck: Duration::from_secs(o.token_introspection_recheck_secs.clamp(1, 60)),
                }),
        })
    }
}

fn random_node_id() -> String {
    let mut b = [0u8; 4];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
    format!("node-{}", hex::encode(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn options(args: &[&str]) -> Options {
        crate::cli::args::Cli::try_parse_from(
            std::iter::once("alerthub").chain(args.iter().copied()),
        )
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
    fn redis_url_is_one_url_or_a_list_of_shards_in_order() {
        let s = Settings::from_options(&options(&["--redis-url", "redis://a:1"])).unwrap();
        assert_eq!(s.redis_urls, ["redis://a:1"]);
        let s = Settings::from_options(&options(&["--redis-url", "redis://b:2, redis://a:1,,"]))
            .unwrap();
        assert_eq!(s.redis_urls, ["redis://b:2", "redis://a:1"]);
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
            ("--retention-days", "ALERTHUB_RETENTION_DAYS"),
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
    fn retention_is_days_unless_a_test_shortens_the_unit() {
        assert_eq!(
            Settings::from_options(&options(&[])).unwrap().retention,
            None
        );
        let s = Settings::from_options(&options(&["--retention-days", "30"])).unwrap();
        assert_eq!(s.retention, Some(Duration::from_secs(30 * 86_400)));
        let s = Settings::from_options(&options(&[
            "--retention-days",
            "3",
            "--retention-unit-secs",
            "1",
        ]))
        .unwrap();
        assert_eq!(s.retention, Some(Duration::from_secs(3)));
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

    #[test]
    fn the_services_address_must_be_an_address_and_is_named() {
        let err = Settings::from_options(&options(&["--service-bind", "localhost:8100"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("ALERTHUB_SERVICE_BIND"), "{err}");
        let ok = Settings::from_options(&options(&["--service-bind", "127.0.0.1:8100"])).unwrap();
        assert_eq!(ok.service_bind.as_deref(), Some("127.0.0.1:8100"));
        assert_eq!(
            Settings::from_options(&options(&[])).unwrap().service_bind,
            None
        );
        // A services listener reachable from outside ends development mode.
        assert!(
            !Settings::from_options(&options(&["--service-bind", "0.0.0.0:8100"]))
                .unwrap()
                .dev_secrets_allowed
        );
        assert!(ok.dev_secrets_allowed);
    }
}
