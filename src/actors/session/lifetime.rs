//! What ends a session besides its peer (contract §1 liveness, §5): the
//! heartbeat's verdicts, the expiry of its credential, a revoked token, a
//! sign-out — and the in-band `refresh_token` that rebinds it to a new
//! credential of the same user and moves its expiry.
//!
//! `Binding` is the session's side of the credential: its expiry (also
//! armed in the `SessionClock`, which the one heartbeat timer reads when
//! it falls due) and
//! the hashes of the opaque tokens that opened or refreshed it, which a
//! revocation is matched against. The tokens themselves are never kept.

use futures_util::FutureExt;
use futures_util::future::LocalBoxFuture;

use super::super::messages::{Beat, SessionClock, SessionControl};
use crate::auth::{AuthError, Authenticator, Credential, Identity};
use crate::models::UserId;
use crate::models::time::{format_timestamp, now_ms};
use crate::protocol::{Close, ErrorCode, SecretText, frames};
use crate::telemetry::metrics::CloseWhy;

/// The most opaque-token hashes a session remembers (a session refreshed
/// more often than this forgets the oldest).
const REMEMBERED_TOKENS: usize = 16;

/// What binds a session to its credential.
#[derive(Debug)]
pub struct Binding {
    /// Unix seconds; `None` for an opaque token.
    expires_at: Option<i64>,
    tokens: Vec<[u8; 32]>,
    /// An introspected token, checked again every re-check period.
    recheck: Option<SecretText>,
}

impl Binding {
    pub fn new(identity: &Identity) -> Self {
        let mut binding = Self {
            expires_at: None,
            tokens: Vec::new(),
            recheck: None,
        };
        binding.rebind(identity);
        binding
    }

    /// From now on the session lives as long as this credential.
    pub fn rebind(&mut self, identity: &Identity) {
        self.expires_at = identity.expires_at;
        self.recheck = identity.recheck.clone();
        if let Some(hash) = identity.token_hash {
            if self.tokens.len() == REMEMBERED_TOKENS {
                self.tokens.remove(0);
            }
            self.tokens.push(hash);
        }
    }

    /// When to close the session, in Unix ms.
    pub fn expires_at_ms(&self) -> Option<u64> {
        self.expires_at
            .map(|s| u64::try_from(s).unwrap_or(0).saturating_mul(1000))
    }

    /// `expires_at` as the contract writes it.
    pub fn expires_at_text(&self) -> Option<String> {
        self.expires_at
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
            .map(format_timestamp)
    }

    /// Whether the token with this hash opened or refreshed the session.
    pub fn used(&self, hash: &[u8; 32]) -> bool {
        self.tokens.contains(hash)
    }

    fn expired(&self, now_unix_ms: u64) -> bool {
        self.expires_at_ms().is_some_and(|at| now_unix_ms >= at)
    }

    /// Tells the heartbeat's clock what to watch for this binding.
    pub fn arm(&self, clock: &SessionClock) {
        clock.expire_at(self.expires_at_ms());
        clock.set_recheck(self.recheck.is_some());
    }

    /// Rebinds after a good `refresh_token`; returns the answer.
    pub fn refreshed(&mut self, identity: &Identity, clock: &SessionClock) -> String {
        self.rebind(identity);
        self.arm(clock);
        frames::token_refreshed(self.expires_at_text().as_deref())
    }
}

/// What a session does about a heartbeat, a control message or a check
/// of its credential.
pub enum Verdict {
    Stay,
    Ping,
    SlowConsumer,
    /// A refresh moved the expiry after the heartbeat looked: arm it again.
    Rearm,
    Close(Close, CloseWhy),
    /// A good `refresh_token`: bind to this credential.
    Rebind(Identity),
    /// Send this frame (a refused refresh).
    Answer(String),
    /// Decide once this resolves (the check of a token).
    Later(LocalBoxFuture<'static, Verdict>),
}

/// `refresh_token`: checks the token like a handshake does. A token of
/// this session's user is the new binding; anything else is the `error`
/// frame to answer (`invalid_token`, or `unavailable` when the check could
/// not be made), and the session keeps its old binding.
pub fn refresh(auth: Authenticator, token: SecretText, user: UserId) -> Verdict {
    Verdict::Later(
        async move {
            let Some(credential) = Credential::parse(token.expose()) else {
                return Verdict::Answer(invalid_token());
            };
            match auth.authenticate(&credential).await {
                Ok(identity) if identity.user == user => Verdict::Rebind(identity),
                Err(AuthError::Unavailable) => Verdict::Answer(frames::error(
                    ErrorCode::Unavailable,
                    "the token could not be checked; the session keeps its token",
                )),
                Ok(_) | Err(AuthError::Invalid(_)) => Verdict::Answer(invalid_token()),
            }
        }
        .boxed_local(),
    )
}

/// Asks the introspection endpoint again about the session's token: no
/// longer active closes the session with 4003 `token revoked`; no answer
/// keeps it (the next re-check asks again).
fn recheck(auth: Authenticator, token: SecretText, user: UserId) -> Verdict {
    Verdict::Later(
        async move {
            match auth.still_active(&token, &user).await {
                Ok(false) => Verdict::Close(Close::TokenRevoked, CloseWhy::Revoked),
                Ok(true) | Err(_) => Verdict::Stay,
            }
        }
        .boxed_local(),
    )
}

fn invalid_token() -> String {
    frames::error(
        ErrorCode::InvalidToken,
        "the token is not valid for this session; the session keeps its token",
    )
}

pub fn on_control(msg: SessionControl, binding: &Binding) -> Verdict {
    match msg {
        SessionControl::SlowConsumer => Verdict::SlowConsumer,
        SessionControl::Close(close) => Verdict::Close(
            close,
            match close {
                Close::ShuttingDown => CloseWhy::Shutdown,
                Close::SignedOut => CloseWhy::SignedOut,
                Close::TokenRevoked => CloseWhy::Revoked,
                _ => CloseWhy::Client,
            },
        ),
        SessionControl::TokenRevoked(hash) if binding.used(&hash) => {
            Verdict::Close(Close::TokenRevoked, CloseWhy::Revoked)
        }
        SessionControl::TokenRevoked(_) => Verdict::Stay,
    }
}

/// `live`: the session is not closing yet.
pub fn on_beat(
    beat: Beat,
    live: bool,
    binding: &Binding,
    auth: &Authenticator,
    user: &UserId,
) -> Verdict {
    match beat {
        Beat::Recheck => match &binding.recheck {
            Some(token) if live => recheck(auth.clone(), token.clone(), user.clone()),
            _ => Verdict::Stay,
        },
        Beat::Ping if live => Verdict::Ping,
        Beat::Ping => Verdict::Stay,
        Beat::TimedOut => Verdict::Close(Close::HeartbeatTimeout, CloseWhy::Heartbeat),
        Beat::Expired if binding.expired(u64::try_from(now_ms()).unwrap_or(0)) => {
            Verdict::Close(Close::TokenExpired, CloseWhy::Expired)
        }
        Beat::Expired => Verdict::Rearm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(expires_at: Option<i64>, token_hash: Option<[u8; 32]>) -> Identity {
        Identity {
            user: UserId::parse("1").unwrap(),
            expires_at,
            token_hash,
            recheck: None,
        }
    }

    #[test]
    fn a_binding_remembers_its_tokens_and_moves_its_expiry() {
        let mut b = Binding::new(&identity(None, Some([1; 32])));
        assert_eq!(b.expires_at_ms(), None);
        b.rebind(&identity(Some(2_000_000_000), None));
        assert_eq!(b.expires_at_ms(), Some(2_000_000_000_000));
        assert_eq!(b.expires_at_text().as_deref(), Some("2033-05-18T03:33:20Z"));
        assert!(b.used(&[1; 32]) && !b.used(&[2; 32]));
        assert!(matches!(
            on_control(SessionControl::TokenRevoked([1; 32]), &b),
            Verdict::Close(Close::TokenRevoked, CloseWhy::Revoked)
        ));
        assert!(matches!(
            on_control(SessionControl::TokenRevoked([2; 32]), &b),
            Verdict::Stay
        ));
        assert!(b.expired(2_000_000_000_000) && !b.expired(1_999_999_999_999));
        b.rebind(&identity(None, None));
        assert!(!b.expired(u64::MAX));
    }
}
