//! "Sign out everywhere" as the handshake sees it: the instant after which
//! a user's JWTs must have been issued (contract §5).
//!
//! The instant is kept in the database (`storage::tokens::sign_out`), so it
//! holds after a restart and on a node that starts later. Reading it on
//! every JWT handshake would put a query in front of what was an I/O-free
//! check, so each node caches the answer per user for `TTL`; a sign-out on
//! this node or on another one (the control event, see `redis`) replaces the
//! cached answer at once, and the TTL only bounds how long a node that
//! missed the event (Redis down) keeps the old one.
//!
//! A JWT is void when its `iat` is in an earlier second than the sign-out,
//! or when it has no `iat`. JWT times are whole seconds: a token issued in
//! the same second as the sign-out is still accepted, so a client that signs
//! in again right after a password reset is not refused (`docs/protocol.md`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix::Recipient;

use super::credential::AuthError;
use super::refusal::Refusal;
use crate::actors::messages::{SignedOutAt, db_result};
use crate::models::UserId;

/// How long a node trusts what it read about a user's sign-out.
const TTL: Duration = Duration::from_secs(30);
/// More cached answers than this are never kept.
const CACHE_CAP: usize = 100_000;

struct Cached {
    /// The sign-out, Unix ms; `None`: the user never signed out.
    at_ms: Option<i64>,
    until: Instant,
}

#[derive(Default)]
pub struct SignOuts {
    cache: Mutex<HashMap<UserId, Cached>>,
}

/// Whether a JWT issued at `iat` (Unix s) survives a sign-out at `at_ms`.
pub fn issued_after(iat: Option<i64>, at_ms: Option<i64>) -> bool {
    match (at_ms, iat) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(at), Some(iat)) => iat >= at.div_euclid(1000),
    }
}

impl SignOuts {
    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, Cached>> {
        // A poisoned lock only means another thread panicked mid-update; an
        // entry is either whole or absent.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn remember(&self, user: &UserId, at_ms: Option<i64>) {
        let now = Instant::now();
        let mut cache = self.cache();
        if cache.len() >= CACHE_CAP {
            cache.retain(|_, c| c.until > now);
        }
        if cache.len() < CACHE_CAP || cache.contains_key(user) {
            cache.insert(
                user.clone(),
                Cached {
                    at_ms,
                    until: now + TTL,
                },
            );
        }
    }

    /// Refuses a JWT of `user` issued at `iat` if the user signed out
    /// after it; asks the database when the cached answer is missing or old.
    pub async fn check(
        &self,
        db: &Recipient<SignedOutAt>,
        user: &UserId,
        iat: Option<i64>,
    ) -> Result<(), AuthError> {
        let cached = {
            let cache = self.cache();
            cache
                .get(user)
                .filter(|c| c.until > Instant::now())
                .map(|c| c.at_ms)
        };
        let at_ms = match cached {
            Some(at_ms) => at_ms,
            None => {
                // Not knowing is not admitting: a database that cannot be
                // asked makes the handshake a 503, not a pass.
                let at_ms = db_result(db.send(SignedOutAt(user.clone())).await)
                    .map_err(|_| AuthError::Unavailable)?;
                self.remember(user, at_ms);
                at_ms
            }
        };
        if issued_after(iat, at_ms) {
            Ok(())
        } else {
            Err(AuthError::Invalid(Refusal::SignedOut))
        }
    }

    /// The user signed out at `at_ms` (here or on another node).
    pub fn signed_out(&self, user: &UserId, at_ms: i64) {
        let latest = {
            let cache = self.cache();
            cache.get(user).and_then(|c| c.at_ms)
        };
        self.remember(user, Some(latest.map_or(at_ms, |l| l.max(at_ms))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_of_earlier_seconds_or_without_iat_are_void() {
        assert!(issued_after(None, None));
        assert!(issued_after(Some(5), None));
        assert!(!issued_after(None, Some(10_500)));
        assert!(!issued_after(Some(9), Some(10_500)));
        assert!(issued_after(Some(10), Some(10_500)));
        assert!(issued_after(Some(11), Some(10_500)));
    }
}
