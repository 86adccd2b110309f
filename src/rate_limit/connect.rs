//! The connect rate limit: at most N connection attempts per user in any
//! sliding window (60 s by default).
//!
//! A single node counts in memory. In multi-node mode the count lives in
//! Redis — a sorted set of attempt times per user, trimmed and counted by
//! one Lua script using Redis's own clock — so the limit holds across
//! nodes (on the user's shard, when there are several). If Redis cannot be
//! asked, the node falls back to its own count
//! rather than refusing everyone or letting everyone through.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use deadpool_redis::redis;

use crate::models::UserId;
use crate::redis::RedisContext;

/// In-memory sliding windows, one per user.
struct Windows {
    attempts: HashMap<UserId, VecDeque<Instant>>,
    calls: u64,
}

impl Windows {
    fn allow(&mut self, user: &UserId, limit: u32, window: Duration) -> bool {
        let now = Instant::now();
        self.calls += 1;
        // Now and then, forget users whose attempts all left the window so
        // the map does not grow with every user ever seen.
        if self.calls.is_multiple_of(4096) {
            self.attempts
                .retain(|_, a| a.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let attempts = self.attempts.entry(user.clone()).or_default();
        while attempts
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            attempts.pop_front();
        }
        attempts.push_back(now);
        attempts.len() <= limit as usize
    }
}

/// Trims the window, records this attempt and returns how many are in it.
const SLIDING_WINDOW: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return redis.call('ZCARD', KEYS[1])
"#;

pub struct ConnectLimiter {
    limit: u32,
    window: Duration,
    local: Mutex<Windows>,
    redis: Option<(RedisContext, redis::Script, String)>,
    seq: AtomicU64,
}

impl ConnectLimiter {
    pub fn new(limit: u32, window: Duration, redis: Option<(RedisContext, String)>) -> Self {
        Self {
            limit,
            window,
            local: Mutex::new(Windows {
                attempts: HashMap::new(),
                calls: 0,
            }),
            redis: redis.map(|(ctx, node_id)| (ctx, redis::Script::new(SLIDING_WINDOW), node_id)),
            seq: AtomicU64::new(0),
        }
    }

    fn allow_locally(&self, user: &UserId) -> bool {
        // A poisoned lock only means another thread panicked mid-update; the
        // windows are still usable.
        let mut windows = self.local.lock().unwrap_or_else(|e| e.into_inner());
        windows.allow(user, self.limit, self.window)
    }

    /// Counts this attempt; true if it is within the limit.
    pub async fn allow(&self, user: &UserId) -> bool {
        let Some((ctx, script, node_id)) = &self.redis else {
            return self.allow_locally(user);
        };
        // Each attempt is its own member of the set, unique across nodes.
        let member = format!("{node_id}:{}", self.seq.fetch_add(1, Ordering::Relaxed));
        let counted: Result<u64, String> = async {
            // On the user's shard, like the user's channel.
            let mut conn = ctx
                .shard_of(user)
                .pool
                .get()
                .await
                .map_err(|e| e.to_string())?;
            script
                .key(ctx.keys.connect_attempts(user))
                .arg(self.window.as_millis() as u64)
                .arg(member)
                .invoke_async(&mut conn)
                .await
                .map_err(|e| e.to_string())
        }
        .await;
        match counted {
            Ok(n) => n <= u64::from(self.limit),
            Err(e) => {
                log::warn!("connect limit: Redis unavailable ({e}); counting on this node only");
                self.allow_locally(user)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_slides() {
        let mut w = Windows {
            attempts: HashMap::new(),
            calls: 0,
        };
        let user = UserId::parse("1").unwrap();
        let window = Duration::from_millis(50);
        assert!((0..3).all(|_| w.allow(&user, 3, window)));
        assert!(!w.allow(&user, 3, window));
        std::thread::sleep(Duration::from_millis(60));
        assert!(w.allow(&user, 3, window));
        assert!(w.allow(&UserId::parse("2").unwrap(), 3, window));
    }
}
