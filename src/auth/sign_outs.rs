//! "Sign out everywhere" as the handshake sees it: the instant after which
//! a user's JWTs must have been issued (contract §5).
//!
//! The instants are kept in the database (`storage::sign_outs`), so they
//! hold after a restart and on a node that starts later. Each node keeps
//! all of them in memory — one entry per user who ever signed out — so a
//! JWT handshake stays free of I/O: they are loaded at start, a sign-out on
//! this node or on another (the control event, see `redis`) updates the map
//! at once, and a poll of the rows written since the last one (every
//! `POLL_EVERY`, in `startup::wiring`) covers an event a node missed while
//! Redis was down.
//!
//! A JWT is void when its `iat` is in an earlier second than the sign-out,
//! or when it has no `iat`. JWT times are whole seconds: a token issued in
//! the same second as the sign-out is still accepted, so a client that signs
//! in again right after a password reset is not refused (`docs/protocol.md`).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use super::credential::AuthError;
use super::refusal::Refusal;
use crate::models::UserId;

/// How often a node reads the sign-outs written since its last read.
pub const POLL_EVERY: Duration = Duration::from_secs(10);
/// How far before the last read a poll looks again (a row is written a
/// moment after the instant it holds).
pub const POLL_MARGIN: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct SignOuts {
    /// The latest sign-out of each user, Unix ms.
    latest: RwLock<HashMap<UserId, i64>>,
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
    /// Adds sign-outs read from the database (`(user, Unix ms)`); a later
    /// instant wins.
    pub fn merge(&self, rows: impl IntoIterator<Item = (String, i64)>) {
        // A poisoned lock only means another thread panicked mid-update; an
        // entry is either whole or absent.
        let mut latest = self.latest.write().unwrap_or_else(|e| e.into_inner());
        for (user, at_ms) in rows {
            if let Ok(user) = UserId::parse(&user) {
                let at = latest.entry(user).or_insert(at_ms);
                *at = (*at).max(at_ms);
            }
        }
    }

    /// Refuses a JWT of `user` issued at `iat` if the user signed out after it.
    pub fn check(&self, user: &UserId, iat: Option<i64>) -> Result<(), AuthError> {
        let at_ms = {
            let latest = self.latest.read().unwrap_or_else(|e| e.into_inner());
            latest.get(user).copied()
        };
        if issued_after(iat, at_ms) {
            Ok(())
        } else {
            Err(AuthError::Invalid(Refusal::SignedOut))
        }
    }

    /// The user signed out at `at_ms` (here or on another node).
    pub fn signed_out(&self, user: &UserId, at_ms: i64) {
        self.merge([(user.as_str().to_owned(), at_ms)]);
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

    #[test]
    fn the_latest_sign_out_counts() {
        let s = SignOuts::default();
        let user = UserId::parse("1").unwrap();
        assert!(s.check(&user, Some(1)).is_ok());
        s.merge([
            ("1".to_owned(), 20_000),
            ("1".to_owned(), 10_000),
            ("a-b".into(), 1),
        ]);
        assert!(s.check(&user, Some(19)).is_err());
        assert!(s.check(&user, Some(20)).is_ok());
        s.signed_out(&user, 5_000);
        assert!(s.check(&user, Some(19)).is_err());
    }
}
