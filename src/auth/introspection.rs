//! Tokens of the system alerthub replaces (contract §5): an opaque token
//! alerthub did not issue — a Django REST Framework `Token <40 hex>`, say —
//! is checked by an RFC 7662 introspection request to the old system, when
//! one is configured, instead of alerthub's own table.
//!
//! `POST <url>` with the form body `token=<value>` and the configured
//! `Authorization` header; `{"active":true,"<user claim>":"1","exp":…}`
//! admits the token (`exp` optional), `"active":false` refuses it. An
//! endpoint that fails or takes over 2 s is not a verdict on the token:
//! the caller answers 503. Answers are cached per token (by its SHA-256)
//! for the re-check period, at most 60 s; a live session re-checks its
//! token that often, bypassing the cache (`recheck`), and closes once the
//! token is no longer active. A budget bounds how many requests a flood of
//! made-up tokens can send to the old system.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::Value;

use super::opaque;
use crate::config::Introspection;
use crate::models::UserId;

/// How long the endpoint may take (contract §5).
const TIMEOUT: Duration = Duration::from_secs(2);
/// Requests to the endpoint per second (burst twice that) for tokens not
/// in the cache.
const REQUESTS_PER_SECOND: u32 = 100;
const CACHE_CAP: usize = 100_000;

/// What the endpoint said about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Active {
        user: UserId,
        /// Unix seconds, when the endpoint said.
        exp: Option<i64>,
    },
    Inactive,
}

/// Why there is no verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IntrospectionError {
    #[error("the introspection endpoint is down, too slow, or answered nonsense")]
    Unavailable,
    #[error("too many introspection requests")]
    Busy,
}

struct Cached {
    verdict: Verdict,
    until: Instant,
}

pub struct Introspector {
    settings: Introspection,
    user_claim: String,
    cache: Mutex<HashMap<[u8; 32], Cached>>,
    budget: DefaultDirectRateLimiter,
}

thread_local! {
    // awc's client is per thread (it is not `Send`); one per worker keeps
    // its connections to the endpoint alive.
    static CLIENT: awc::Client = awc::Client::builder().timeout(TIMEOUT).finish();
}

impl Introspector {
    pub fn new(settings: Introspection, user_claim: &str) -> Self {
        let rate = NonZeroU32::new(REQUESTS_PER_SECOND).unwrap_or(NonZeroU32::MIN);
        Self {
            settings,
            user_claim: user_claim.to_owned(),
            cache: Mutex::new(HashMap::new()),
            budget: RateLimiter::direct(
                Quota::per_second(rate).allow_burst(
                    rate.saturating_mul(NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN)),
                ),
            ),
        }
    }

    /// How often a live session's token is checked again.
    pub fn recheck_period(&self) -> Duration {
        self.settings.recheck
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Cached>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The verdict on a token, from the cache when it is fresh.
    pub async fn check(&self, token: &str) -> Result<Verdict, IntrospectionError> {
        let hash = opaque::hash(token);
        let cached = {
            let cache = self.cache();
            cache
                .get(&hash)
                .filter(|c| c.until > Instant::now())
                .map(|c| c.verdict.clone())
        };
        if let Some(verdict) = cached {
            return Ok(verdict);
        }
        if self.budget.check().is_err() {
            return Err(IntrospectionError::Busy);
        }
        self.recheck(token).await
    }

    /// Asks the endpoint, whatever the cache says, and caches the answer.
    pub async fn recheck(&self, token: &str) -> Result<Verdict, IntrospectionError> {
        let verdict = self.ask(token).await?;
        let now = Instant::now();
        let mut cache = self.cache();
        if cache.len() >= CACHE_CAP {
            cache.retain(|_, c| c.until > now);
        }
        if cache.len() < CACHE_CAP {
            cache.insert(
                opaque::hash(token),
                Cached {
                    verdict: verdict.clone(),
                    until: now + self.settings.recheck,
                },
            );
        }
        Ok(verdict)
    }

    async fn ask(&self, token: &str) -> Result<Verdict, IntrospectionError> {
        let mut request = CLIENT.with(|c| c.post(&self.settings.url));
        if let Some(auth) = &self.settings.auth {
            request = request.insert_header(("Authorization", auth.as_str()));
        }
        let unavailable = |what: &str| {
            // Never the token or the header: only what went wrong.
            log::warn!("token introspection failed: {what}");
            IntrospectionError::Unavailable
        };
        let mut response = request
            .send_form(&[("token", token)])
            .await
            .map_err(|e| unavailable(&e.to_string()))?;
        if !response.status().is_success() {
            return Err(unavailable(&format!("HTTP {}", response.status())));
        }
        let body: Value = tokio::time::timeout(TIMEOUT, response.json::<Value>())
            .await
            .map_err(|_| unavailable("the answer did not arrive in time"))?
            .map_err(|e| unavailable(&e.to_string()))?;
        verdict(&body, &self.user_claim).ok_or_else(|| unavailable("the answer is not RFC 7662"))
    }
}

/// Reads an RFC 7662 answer; `None` if it is not one. An active token
/// without a valid user cannot log in: that is `Inactive`.
fn verdict(body: &Value, user_claim: &str) -> Option<Verdict> {
    match body.get("active")?.as_bool()? {
        false => Some(Verdict::Inactive),
        true => {
            let Some(user) = body
                .get(user_claim)
                .and_then(|u| UserId::from_claim(u).ok())
            else {
                return Some(Verdict::Inactive);
            };
            let exp = body.get("exp").and_then(Value::as_f64).map(|e| e as i64);
            Some(Verdict::Active { user, exp })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_read_as_rfc_7662_says() {
        let user = UserId::parse("1").unwrap();
        assert_eq!(
            verdict(&json!({"active": true, "user_id": 1, "exp": 5}), "user_id"),
            Some(Verdict::Active {
                user: user.clone(),
                exp: Some(5)
            })
        );
        assert_eq!(
            verdict(&json!({"active": true, "user_id": "1"}), "user_id"),
            Some(Verdict::Active { user, exp: None })
        );
        assert_eq!(
            verdict(&json!({"active": false}), "user_id"),
            Some(Verdict::Inactive)
        );
        assert_eq!(
            verdict(&json!({"active": true, "sub": "1"}), "user_id"),
            Some(Verdict::Inactive)
        );
        assert_eq!(verdict(&json!({"user_id": "1"}), "user_id"), None);
    }
}
