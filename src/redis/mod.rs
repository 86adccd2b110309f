//! Multi-node mode: what nodes share through Redis.
//!
//! - `publisher`: every user event this node produces, published in order
//!   on the user's channel (through deadpool-redis);
//! - the `RedisSubscriber` actor (`actors/redis_subscriber.rs`): a dedicated
//!   pub/sub connection subscribed to the channels of users with sessions
//!   here;
//! - `ingest`: the `alerthub:ingest` stream, consumed by all nodes in one
//!   consumer group;
//! - the connect-rate windows (`connect_limit.rs`).
//!
//! Every key starts with a configurable prefix (`alerthub:` by default) so
//! several deployments — or tests — can share one Redis.

pub mod ingest;
pub mod publisher;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool_redis::{Config, Pool, PoolConfig, Runtime, Timeouts, redis};
use serde::{Deserialize, Serialize};

use crate::models::UserId;
use crate::protocol::{ControlEvent, UserEvent};

/// Key names under the prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// The pub/sub channel of one user's events.
    pub fn user_channel(&self, user: &UserId) -> String {
        format!("{}user:{}", self.prefix, user)
    }

    /// The user a channel name belongs to, if it is one of ours.
    pub fn user_of_channel(&self, channel: &str) -> Option<UserId> {
        channel
            .strip_prefix(&self.prefix)?
            .strip_prefix("user:")
            .and_then(|u| UserId::parse(u).ok())
    }

    /// The channel of `ControlEvent`s: every node subscribes it.
    pub fn control_channel(&self) -> String {
        format!("{}control", self.prefix)
    }

    pub fn ingest_stream(&self) -> String {
        format!("{}ingest", self.prefix)
    }

    pub fn ingest_group(&self) -> &'static str {
        "alerthub-nodes"
    }

    pub fn connect_attempts(&self, user: &UserId) -> String {
        format!("{}connect:{}", self.prefix, user)
    }
}

/// One event on a user's channel. `origin` lets a node skip its own
/// events, which it already delivered locally.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope {
    pub origin: String,
    pub event: UserEvent,
}

/// One event on the control channel; `origin` as for `Envelope`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ControlEnvelope {
    pub origin: String,
    pub control: ControlEvent,
}

/// Whether this node's Redis connections work, for `/health` and `/ready`.
#[derive(Debug, Default)]
pub struct RedisHealth {
    subscriber_up: AtomicBool,
}

impl RedisHealth {
    pub fn set_subscriber_up(&self, up: bool) {
        self.subscriber_up.store(up, Ordering::Release);
    }

    pub fn subscriber_up(&self) -> bool {
        self.subscriber_up.load(Ordering::Acquire)
    }
}

/// Everything a node needs to talk to Redis.
#[derive(Clone)]
pub struct RedisContext {
    pub client: redis::Client,
    pub pool: Pool,
    pub keys: Keys,
    pub health: Arc<RedisHealth>,
}

#[derive(Debug, thiserror::Error)]
#[error("REDIS_URL {url:?}: {reason}")]
pub struct RedisConfigError {
    url: String,
    reason: String,
}

impl RedisContext {
    /// Checks the URL; does not need Redis to be up (the node starts and
    /// reports `redis: down` until it is).
    pub fn new(url: &str, prefix: &str) -> Result<Self, RedisConfigError> {
        let error = |reason: String| RedisConfigError {
            url: url.to_owned(),
            reason,
        };
        let client = redis::Client::open(url).map_err(|e| error(e.to_string()))?;
        let mut config = Config::from_url(url);
        let wait = Some(Duration::from_secs(1));
        config.pool = Some(PoolConfig {
            max_size: 16,
            timeouts: Timeouts {
                wait,
                create: wait,
                recycle: wait,
            },
            ..PoolConfig::default()
        });
        let pool = config
            .create_pool(Some(Runtime::Tokio1))
            .map_err(|e| error(e.to_string()))?;
        Ok(Self {
            client,
            pool,
            keys: Keys::new(prefix),
            health: Arc::default(),
        })
    }

    /// A round trip on a pooled connection, for `/ready`.
    pub async fn ping(&self) -> bool {
        let check = async {
            let mut conn = self.pool.get().await.ok()?;
            redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .ok()
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(2), check).await,
            Ok(Some(_))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_round_trip() {
        let keys = Keys::new("t1:");
        let user = UserId::parse("42").unwrap();
        assert_eq!(keys.user_channel(&user), "t1:user:42");
        assert_eq!(keys.user_of_channel("t1:user:42"), Some(user));
        assert_eq!(keys.user_of_channel("t2:user:42"), None);
        assert_eq!(keys.ingest_stream(), "t1:ingest");
    }
}
