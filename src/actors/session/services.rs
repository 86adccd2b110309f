//! `SessionServices`: what every session shares, one allocation for all
//! of them — and the admission every session asks for before it greets.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::super::messages::{
    Admit, Depart, HeartbeatHandle, RegistryHandle, SessionLink, SessionStorage, Unwatch, Watch,
};
use crate::auth::Authenticator;
use crate::config::Limits;
use crate::models::UserId;
use crate::protocol::Close;
use crate::rate_limit::connect::ConnectLimiter;
use crate::telemetry::metrics::{Metrics, Rejection};

/// A session's place among the sessions starting at once (a permit of the
/// bound in `http::session_threads`); dropping it lets the next one start.
pub type Starting = tokio::sync::OwnedSemaphorePermit;

/// What every session shares: one allocation for all of them.
pub struct SessionServices {
    pub registry: RegistryHandle,
    pub heartbeat: HeartbeatHandle,
    pub storage: SessionStorage,
    pub connect_limiter: ConnectLimiter,
    /// Checks the token of a `refresh_token`.
    pub auth: Authenticator,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
}

impl SessionServices {
    /// Asks the heartbeat to watch a session, or to reschedule its checks.
    pub fn watch(&self, link: SessionLink) {
        self.heartbeat.watch.do_send(Watch(link));
    }

    /// Tells the heartbeat and the registry that a session is gone.
    pub fn depart(&self, user: &UserId, session_id: u64) {
        self.heartbeat.unwatch.do_send(Unwatch(session_id));
        let user = user.clone();
        self.registry.depart.do_send(Depart { user, session_id });
    }
}

/// Counts the connect attempt, asks the registry to admit the session,
/// then waits until this node hears the user's Redis channel (at once on a
/// single node); the refusal says why and how to close.
pub async fn admit(
    services: Arc<SessionServices>,
    user: UserId,
    link: SessionLink,
) -> Result<(), (Rejection, Close)> {
    if !services.connect_limiter.allow(&user).await {
        return Err((Rejection::RateLimited, Close::RateLimited));
    }
    match services.registry.admit.send(Admit { user, link }).await {
        Ok(Ok(listening)) => {
            listening.wait().await;
            Ok(())
        }
        Ok(Err(_)) => Err((Rejection::TooManySessions, Close::TooManySessions)),
        Err(_) => Err((Rejection::Unavailable, Close::Unavailable)),
    }
}

/// A session's id on this node (the registry's key); clients see the
/// random `session_id` instead.
pub fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
