//! `SessionLink`: how the registry, a hub and the heartbeat reach one
//! session — a single allocation per session that all of them share — and
//! what they tell it through it (`Outbound`, `SessionControl`, `Beat`).
//!
//! It holds the session's one address (behind `SessionPort`, so none of
//! those actors names the session's type), the hub's count of frames the
//! session has not handled (`Outbox`), and the clock the heartbeat reads.
//! A `Recipient` per message type and holder would cost a boxed clone of
//! the address each (three allocations apiece); an idle session pays for
//! whatever it keeps, times every socket the node holds.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use actix::prelude::*;

use crate::protocol::{Close, Frame};

/// A frame on its way to a session.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct Outbound(pub Arc<Frame>);

/// What else a session is told by the actors that hold it.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
#[rtype(result = "()")]
pub enum SessionControl {
    /// The hub could not queue more frames for it (close 1013).
    SlowConsumer,
    /// Close with this code and reason (shutdown, sign-out).
    Close(Close),
    /// The opaque token with this SHA-256 was revoked: a session opened or
    /// refreshed with it closes with 4003 `token revoked`.
    TokenRevoked([u8; 32]),
}

/// Milliseconds since the first call in this process: the clock sessions
/// and the heartbeat compare.
pub fn clock_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// When a session last heard from its peer: written by the session (one
/// atomic store per frame), read by the heartbeat when a check of this
/// session falls due.
#[derive(Debug)]
pub struct SessionClock {
    last_heard_ms: AtomicU64,
    /// When the session's credential expires, Unix ms; 0: never. Written
    /// by the session (at start and on a refresh, which then asks to be
    /// watched again), read by the heartbeat when it falls due: expiry
    /// costs no timer of its own.
    expires_at_ms: AtomicU64,
    /// The session's token must be checked again periodically
    /// (introspection): the heartbeat says when.
    recheck: AtomicBool,
}

impl SessionClock {
    pub fn new() -> Self {
        Self {
            last_heard_ms: AtomicU64::new(clock_ms()),
            expires_at_ms: AtomicU64::new(0),
            recheck: AtomicBool::new(false),
        }
    }

    pub fn set_recheck(&self, on: bool) {
        self.recheck.store(on, Ordering::Release);
    }

    pub fn rechecks(&self) -> bool {
        self.recheck.load(Ordering::Acquire)
    }

    /// Arms (or, with `None`, disarms) the expiry.
    pub fn expire_at(&self, unix_ms: Option<u64>) {
        // 0 means "never", so an expiry at the epoch is stored as 1 ms.
        let at = unix_ms.map_or(0, |t| t.max(1));
        self.expires_at_ms.store(at, Ordering::Release);
    }

    /// When the armed expiry is, Unix ms (`None`: never, or already told).
    pub fn expiry_ms(&self) -> Option<u64> {
        match self.expires_at_ms.load(Ordering::Acquire) {
            0 => None,
            at => Some(at),
        }
    }

    /// Whether the credential expired by `now_unix_ms`; disarms the expiry
    /// when it says so, so a session is told once (it re-arms it if a
    /// refresh moved it meanwhile).
    pub fn take_expired(&self, now_unix_ms: u64) -> bool {
        let at = self.expires_at_ms.load(Ordering::Acquire);
        at != 0
            && now_unix_ms >= at
            && self
                .expires_at_ms
                .compare_exchange(at, 0, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
    }

    /// A frame arrived.
    pub fn heard(&self) {
        self.last_heard_ms.store(clock_ms(), Ordering::Relaxed);
    }

    pub fn silent_for_ms(&self, now: u64) -> u64 {
        now.saturating_sub(self.last_heard_ms.load(Ordering::Relaxed))
    }
}

impl Default for SessionClock {
    fn default() -> Self {
        Self::new()
    }
}

/// What the heartbeat tells a session.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
#[rtype(result = "()")]
pub enum Beat {
    /// Send a WebSocket Ping.
    Ping,
    /// Nothing arrived for the client timeout: close with 1001.
    TimedOut,
    /// The credential's expiry passed: close with 4001 unless a refresh
    /// moved it.
    Expired,
    /// Check the introspected token again.
    Recheck,
}

/// Frames handed to a session and not yet handled by it. The hub refuses
/// to queue more than the limit: that is the slow-consumer bound.
#[derive(Debug, Default)]
pub struct Outbox {
    pub queued: AtomicUsize,
    /// Set once when the bound is hit, so the session is told only once.
    pub overflowed: AtomicBool,
}

/// The `session_id` clients see: 128 random bits in hex, unique in the
/// cluster with no coordination. Kept inline (no allocation).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SessionId([u8; 32]);

impl SessionId {
    pub fn random() -> Self {
        let mut text = [0u8; 32];
        // Hex of 16 bytes is exactly 32 bytes: this cannot fail.
        let _ = hex::encode_to_slice(rand::random::<[u8; 16]>(), &mut text);
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the actors that hold a session tell it.
pub trait SessionPort: Send + Sync {
    fn frame(&self, msg: Outbound);
    fn control(&self, msg: SessionControl);
    fn beat(&self, msg: Beat);
}

impl<A> SessionPort for Addr<A>
where
    A: Actor<Context = Context<A>> + Handler<Outbound> + Handler<SessionControl> + Handler<Beat>,
{
    fn frame(&self, msg: Outbound) {
        self.do_send(msg);
    }
    fn control(&self, msg: SessionControl) {
        self.do_send(msg);
    }
    fn beat(&self, msg: Beat) {
        self.do_send(msg);
    }
}

/// One session as the others see it; `P` is its address (`dyn
/// SessionPort` in every holder but the session itself).
pub struct Link<P: ?Sized> {
    /// The session's id on this node (the registry's key).
    pub id: u64,
    pub session_id: SessionId,
    pub outbox: Outbox,
    pub clock: SessionClock,
    pub port: P,
}

/// How the registry, a hub and the heartbeat reach one session.
pub type SessionLink = Arc<Link<dyn SessionPort>>;
