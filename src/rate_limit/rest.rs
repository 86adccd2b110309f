//! The per-user rate limit of the REST endpoints that take a user token
//! (contract §8): a token bucket per user, 20 calls a second with bursts of
//! 40 by default (`ALERTHUB_REST_RATE_LIMIT`, `RATE` or `RATE/BURST`).
//!
//! The limit is counted on each node, in memory: a REST call is frequent and
//! cheap, and a Redis round trip on every one would cost more than the
//! limit protects. Behind N nodes a user may make up to N times the limit.
//! (The WebSocket connect limit, at 10 a minute, is cheap to count in Redis
//! and is counted there.)
//!
//! Users are keys only once authenticated, so the map holds real users; it
//! is pruned every `PRUNE_EVERY` of users whose bucket is full again, which
//! bounds it by the users active in the last few seconds.

use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::models::UserId;

/// How often the map of users is pruned (at the next call after that).
const PRUNE_EVERY: Duration = Duration::from_secs(10);

/// `ALERTHUB_REST_RATE_LIMIT`: calls per second per user and the burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestRateLimit {
    pub per_second: NonZeroU32,
    pub burst: NonZeroU32,
}

impl Default for RestRateLimit {
    fn default() -> Self {
        Self {
            per_second: NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN),
            burst: NonZeroU32::new(40).unwrap_or(NonZeroU32::MIN),
        }
    }
}

impl std::fmt::Display for RestRateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.per_second, self.burst)
    }
}

impl FromStr for RestRateLimit {
    type Err = String;

    /// `20` (burst twice the rate) or `20/40`; both numbers at least 1.
    fn from_str(raw: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "ALERTHUB_REST_RATE_LIMIT {raw:?} must be RATE or RATE/BURST, \
                 whole numbers of at least 1 (e.g. 20 or 20/40)"
            )
        };
        let number = |s: &str| s.trim().parse::<NonZeroU32>().map_err(|_| bad());
        let (per_second, burst) = match raw.split_once('/') {
            Some((rate, burst)) => (number(rate)?, number(burst)?),
            None => {
                let rate = number(raw)?;
                (
                    rate,
                    rate.saturating_mul(NonZeroU32::new(2).ok_or_else(bad)?),
                )
            }
        };
        Ok(Self { per_second, burst })
    }
}

/// One bucket per user; `check` says when a refused caller may come back.
pub struct RestLimiter {
    limiter: DefaultKeyedRateLimiter<UserId>,
    pruned: Mutex<Instant>,
}

impl RestLimiter {
    pub fn new(limit: RestRateLimit) -> Self {
        Self {
            limiter: RateLimiter::keyed(
                Quota::per_second(limit.per_second).allow_burst(limit.burst),
            ),
            pruned: Mutex::new(Instant::now()),
        }
    }

    /// Counts one call of `user`. Over the limit: `Err(seconds)`, the whole
    /// number of seconds (at least 1) after which a call will be allowed.
    pub fn check(&self, user: &UserId) -> Result<(), u64> {
        self.prune_now_and_then();
        self.limiter.check_key(user).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.limiter.clock().now());
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }

    /// Users whose bucket is full again are indistinguishable from users
    /// never seen: drop them, at most once per `PRUNE_EVERY`, by whichever
    /// call finds the lock free.
    fn prune_now_and_then(&self) {
        let Ok(mut pruned) = self.pruned.try_lock() else {
            return;
        };
        if pruned.elapsed() >= PRUNE_EVERY {
            *pruned = Instant::now();
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
    }

    /// Users currently tracked (for tests of the pruning).
    pub fn tracked_users(&self) -> usize {
        self.limiter.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_parses() {
        let l: RestRateLimit = "20/40".parse().unwrap();
        assert_eq!((l.per_second.get(), l.burst.get()), (20, 40));
        let l: RestRateLimit = " 5 ".parse().unwrap();
        assert_eq!((l.per_second.get(), l.burst.get()), (5, 10));
        assert_eq!(RestRateLimit::default().to_string(), "20/40");
        for bad in ["0", "20/0", "x", "", "1/2/3", "-1"] {
            let e = bad.parse::<RestRateLimit>().unwrap_err();
            assert!(e.contains("ALERTHUB_REST_RATE_LIMIT"), "{e}");
        }
    }

    #[test]
    fn each_user_has_a_bucket_of_their_own() {
        let limit = RestRateLimit {
            per_second: NonZeroU32::new(1).unwrap(),
            burst: NonZeroU32::new(3).unwrap(),
        };
        let limiter = RestLimiter::new(limit);
        let (a, b) = (UserId::parse("a").unwrap(), UserId::parse("b").unwrap());
        assert!((0..3).all(|_| limiter.check(&a).is_ok()));
        let retry = limiter.check(&a).unwrap_err();
        assert!(retry >= 1, "{retry}");
        assert!(limiter.check(&b).is_ok());
    }

    #[test]
    fn users_whose_bucket_refilled_are_pruned() {
        let limit = RestRateLimit {
            per_second: NonZeroU32::new(1000).unwrap(),
            burst: NonZeroU32::new(1).unwrap(),
        };
        let limiter = RestLimiter::new(limit);
        for i in 0..100 {
            assert!(
                limiter
                    .check(&UserId::parse(&i.to_string()).unwrap())
                    .is_ok()
            );
        }
        assert_eq!(limiter.tracked_users(), 100);
        std::thread::sleep(Duration::from_millis(5));
        // Pretend the last prune was long ago.
        *limiter.pruned.lock().unwrap() = Instant::now() - PRUNE_EVERY;
        limiter.check(&UserId::parse("x").unwrap()).unwrap();
        assert!(limiter.tracked_users() <= 1, "{}", limiter.tracked_users());
    }
}
