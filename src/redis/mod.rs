//! Multi-node mode: what nodes share through Redis.
//!
//! `REDIS_URL` names one Redis or several independent ones (shards,
//! comma-separated). `shard` picks a user's shard; everything about one
//! user lives there:
//!
//! - `publisher`: every user event this node produces, published in order
//!   on the user's channel, on the user's shard (through one deadpool-redis
//!   pool per shard);
//! - the `RedisSubscriber` actors (`actors/redis_subscriber.rs`): one
//!   dedicated pub/sub connection per shard, subscribed to the channels of
//!   users with sessions here;
//! - `ingest`: the `alerthub:ingest` stream of every shard, each consumed
//!   by all nodes in one consumer group;
//! - the connect-rate windows (`rate_limit/connect.rs`).
//!
//! Every key starts with a configurable prefix (`alerthub:` by default) so
//! several deployments — or tests — can share one Redis. With a single URL
//! the keys and channels are exactly those of the unsharded design.

pub mod backlog;
pub mod ingest;
pub mod publisher;
pub mod shard;

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

/// The shard that carries the control channel (revocations and sign-outs,
/// contract §5): the first of `REDIS_URL`. Every node subscribes it there.
pub const CONTROL_SHARD: usize = 0;

/// Whether this node's pub/sub connections work, one flag per shard, for
/// `/health` and `/ready`.
#[derive(Debug)]
pub struct RedisHealth {
    subscriber_up: Box<[AtomicBool]>,
}

impl RedisHealth {
    pub fn new(shards: usize) -> Self {
        Self {
            subscriber_up: (0..shards).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    pub fn set_subscriber_up(&self, shard: usize, up: bool) {
        if let Some(flag) = self.subscriber_up.get(shard) {
            flag.store(up, Ordering::Release);
        }
    }

    pub fn subscriber_up(&self, shard: usize) -> bool {
        self.subscriber_up
            .get(shard)
            .is_some_and(|f| f.load(Ordering::Acquire))
    }
}

/// One Redis instance of the cluster: a client for dedicated pub/sub
/// connections and a pool for everything else.
#[derive(Clone)]
pub struct RedisShard {
    pub index: usize,
    pub client: redis::Client,
    pub pool: Pool,
}

impl RedisShard {
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

/// Everything a node needs to talk to Redis.
#[derive(Clone)]
pub struct RedisContext {
    /// In the order of the URLs in `REDIS_URL`: that order is part of the
    /// shard choice, so every node must list the same URLs in the same order.
    pub shards: Arc<[RedisShard]>,
    pub keys: Keys,
    pub health: Arc<RedisHealth>,
}

#[derive(Debug, thiserror::Error)]
#[error("REDIS_URL {url:?}: {reason}")]
pub struct RedisConfigError {
    /// Without its password.
    url: String,
    reason: String,
}

/// A Redis URL with any password replaced by `***`, for error messages.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let user = url[s + 3..at].split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..s + 3], user, &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl RedisContext {
    /// Checks the URLs (one per shard); does not need Redis to be up (the
    /// node starts and reports `redis: down` until it is).
    pub fn new(urls: &[String], prefix: &str) -> Result<Self, RedisConfigError> {
        let error = |url: &str, reason: String| RedisConfigError {
            url: redacted(url),
            reason,
        };
        if urls.is_empty() {
            return Err(error("", "no URL".into()));
        }
        let mut shards = Vec::with_capacity(urls.len());
        for (index, url) in urls.iter().enumerate() {
            if urls[..index].contains(url) {
                return Err(error(
                    url,
                    "listed twice; each shard must be a different Redis".into(),
                ));
            }
            shards.push(Self::shard(index, url).map_err(|reason| error(url, reason))?);
        }
        Ok(Self {
            health: Arc::new(RedisHealth::new(shards.len())),
            shards: shards.into(),
            keys: Keys::new(prefix),
        })
    }

    fn shard(index: usize, url: &str) -> Result<RedisShard, String> {
        let client = redis::Client::open(url).map_err(|e| e.to_string())?;
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
            .map_err(|e| e.to_string())?;
        Ok(RedisShard {
            index,
            client,
            pool,
        })
    }

    /// The shard that holds this user's channel and keys.
    pub fn shard_of(&self, user: &UserId) -> &RedisShard {
        &self.shards[shard::shard_of(user, self.shards.len())]
    }

    /// Per shard: subscribed and answering a PING, for `/health`.
    pub async fn shards_up(&self) -> Vec<bool> {
        let mut up = Vec::with_capacity(self.shards.len());
        for s in self.shards.iter() {
            up.push(self.health.subscriber_up(s.index) && s.ping().await);
        }
        up
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

    #[test]
    fn urls_are_checked_and_never_echo_a_password() {
        let urls = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ctx = RedisContext::new(&urls(&["redis://127.0.0.1:1", "redis://127.0.0.1:2"]), "p:")
            .unwrap();
        assert_eq!(ctx.shards.len(), 2);
        assert_eq!(ctx.shards[1].index, 1);
        let twice = RedisContext::new(
            &urls(&["redis://:hunter2@h:1", "redis://:hunter2@h:1"]),
            "p:",
        )
        .err()
        .unwrap()
        .to_string();
        assert!(twice.contains("listed twice"), "{twice}");
        assert!(!twice.contains("hunter2"), "{twice}");
        let bad = RedisContext::new(&urls(&["nope://:hunter2@h"]), "p:")
            .err()
            .unwrap()
            .to_string();
        assert!(!bad.contains("hunter2"), "{bad}");
    }
}
