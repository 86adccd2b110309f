//! Bounded opaque-token lookups: who may make the server ask its database
//! "whose token is this?", and how often.
//!
//! Every opaque token (REST `Authorization: Token …`, the WebSocket's
//! `?token=`, a wrong service key on the trigger) used to cost one query, so
//! a flood of random tokens drove the database. Now a lookup runs only when
//! all of these let it through, in this order:
//!
//! 1. **The tag** (`tokens`): a token whose HMAC tag does not verify under
//!    our key is refused at once. Random values never reach step 2.
//! 2. **A short-lived cache** keyed by the token's SHA-256, holding both
//!    answers (the user, or "no live token") for `token_cache_ttl` (1 s).
//!    A real client's repeated calls cost one query per TTL, and a revoked
//!    token replayed in a loop costs the same. An entry is dropped at once
//!    when the token is revoked through this node (`forget`); a token
//!    revoked elsewhere (the CLI, another node) may keep working here for
//!    up to the TTL — the same 1 s within which contract §5 wants a
//!    revocation to reach every node.
//! 3. **A lookup budget**, a token bucket per node: `token_lookups_*` for
//!    tagged tokens, and a separate, smaller one for untagged legacy tokens
//!    (`ahk_<64 hex>`), which anyone can forge the shape of. Over budget the
//!    caller gets `LookupError::Busy` (HTTP 503 with `Retry-After`),
//!    not a refusal: the token may well be good. Keeping legacy lookups in
//!    a bucket of their own means a flood of forged legacy-shaped tokens
//!    can slow down only the owners of legacy tokens.
//!
//! So, whoever sends them, tokens that miss the cache make one node query
//! the database at most `rate × seconds + burst` times per bucket, and the
//! cache itself cannot hold more entries than lookups were allowed in one
//! TTL (it is capped besides).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::Recipient;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::actors::messages::{TokenUser, db_result};
use crate::auth::opaque::{self, Kind, TokenKey};
use crate::config::Limits;
use crate::models::UserId;
use crate::telemetry::metrics::{Metrics, TokenCheck};

/// Why a lookup gave no user. `auth` maps these to its own `AuthError`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// Not a token of ours, unknown, or revoked.
    #[error("no live token matches")]
    Unknown,
    /// The lookup budget is spent; the token was not checked.
    #[error("too many token lookups; try again shortly")]
    Busy,
    /// The database could not be asked.
    #[error("the token store is unavailable")]
    Unavailable,
}

/// More cached answers than this are never kept, whatever the budgets say.
const CACHE_CAP: usize = 10_000;

struct Cached {
    /// `None`: the database said there is no live token with this hash.
    user: Option<UserId>,
    until: Instant,
}

/// The tag check, the cache and the budgets; one per server.
pub struct TokenLookup {
    key: TokenKey,
    ttl: Duration,
    cache: Mutex<HashMap<[u8; 32], Cached>>,
    issued: DefaultDirectRateLimiter,
    legacy: DefaultDirectRateLimiter,
    metrics: Arc<Metrics>,
}

fn bucket(per_second: u32, burst: u32) -> DefaultDirectRateLimiter {
    let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(rate);
    RateLimiter::direct(Quota::per_second(rate).allow_burst(burst))
}

impl TokenLookup {
    pub fn new(key: TokenKey, limits: &Limits, metrics: Arc<Metrics>) -> Self {
        Self {
            key,
            ttl: limits.token_cache_ttl,
            cache: Mutex::new(HashMap::new()),
            issued: bucket(limits.token_lookups_per_second, limits.token_lookup_burst),
            legacy: bucket(
                limits.legacy_token_lookups_per_second,
                limits.legacy_token_lookup_burst,
            ),
            metrics,
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Cached>> {
        // A poisoned lock only means another thread panicked mid-update; a
        // cache entry is either whole or absent, so the map is still usable.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cached(&self, hash: &[u8; 32]) -> Option<Option<UserId>> {
        let cache = self.cache();
        cache
            .get(hash)
            .filter(|c| c.until > Instant::now())
            .map(|c| c.user.clone())
    }

    fn remember(&self, hash: [u8; 32], user: Option<UserId>) {
        let now = Instant::now();
        let mut cache = self.cache();
        if cache.len() >= CACHE_CAP {
            cache.retain(|_, c| c.until > now);
        }
        if cache.len() < CACHE_CAP {
            cache.insert(
                hash,
                Cached {
                    user,
                    until: now + self.ttl,
                },
            );
        }
    }

    /// Whether the token has the shape of one alerthub issues (tagged or
    /// legacy): the others are for the introspection endpoint.
    pub fn issued_here(&self, token: &str) -> bool {
        self.key.classify(token) != Kind::Foreign
    }

    /// Drops the cached answer for a token, e.g. because this node just
    /// revoked it; the next use asks the database again.
    pub fn forget(&self, token: &str) {
        self.forget_hash(&opaque::hash(token));
    }

    /// `forget`, by the token's SHA-256 (what other nodes are told).
    pub fn forget_hash(&self, hash: &[u8; 32]) {
        self.cache().remove(hash);
    }

    /// Forgets every cached token of a user (their tokens were revoked).
    pub fn forget_user(&self, user: &UserId) {
        self.cache().retain(|_, c| c.user.as_ref() != Some(user));
    }

    /// The user an opaque token belongs to, within the bounds above.
    pub async fn user(
        &self,
        db: &Recipient<TokenUser>,
        token: &str,
    ) -> Result<UserId, LookupError> {
        let budget = match self.key.classify(token) {
            Kind::Issued => &self.issued,
            Kind::Legacy => &self.legacy,
            Kind::Foreign => {
                self.metrics.token_check(TokenCheck::Forged);
                return Err(LookupError::Unknown);
            }
        };
        let hash = opaque::hash(token);
        if let Some(answer) = self.cached(&hash) {
            self.metrics.token_check(TokenCheck::Cached);
            return answer.ok_or(LookupError::Unknown);
        }
        if budget.check().is_err() {
            self.metrics.token_check(TokenCheck::Throttled);
            return Err(LookupError::Busy);
        }
        self.metrics.token_check(TokenCheck::Queried);
        let stored = db_result(db.send(TokenUser(token.to_owned())).await)
            .map_err(|_| LookupError::Unavailable)?;
        // A stored user id that no longer parses cannot log in; remember
        // that like an unknown token.
        let user = stored.and_then(|u| UserId::parse(&u).ok());
        self.remember(hash, user.clone());
        user.ok_or(LookupError::Unknown)
    }
}
