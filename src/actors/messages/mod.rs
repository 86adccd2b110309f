//! Every message one actor sends another, and the handles (`Recipient`s)
//! an actor is given at start to reach the others. No actor file names
//! another actor's type: each declares only its own state and handlers, and
//! `startup` wires the handles. Storage messages (answered by the
//! `DbActor`) are declared in `storage`, with their result types; those of
//! Web Push are in `push`.

pub mod push;
mod storage;

pub use self::storage::*;

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use actix::prelude::*;
use chrono::{DateTime, Utc};

use crate::models::{NewAlert, UserId};
use crate::protocol::{Close, ControlEvent, Frame, UserEvent};
use crate::storage::StorageError;

// ---------------------------------------------------------------- sessions

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

/// Frames handed to a session and not yet handled by it. The hub refuses
/// to queue more than the limit: that is the slow-consumer bound.
#[derive(Debug, Default)]
pub struct Outbox {
    pub queued: AtomicUsize,
    /// Set once when the bound is hit, so the session is told only once.
    pub overflowed: AtomicBool,
}

/// How the registry and a hub reach one session.
#[derive(Clone)]
pub struct SessionLink {
    pub id: u64,
    /// The `session_id` clients see: unique in the cluster.
    pub session_id: Arc<str>,
    pub frames: Recipient<Outbound>,
    pub control: Recipient<SessionControl>,
    pub outbox: Arc<Outbox>,
}

// ---------------------------------------------------------------- heartbeat

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

/// Start watching a session, or (sent again after a refresh moved its
/// expiry) reschedule its checks.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Watch {
    pub id: u64,
    pub clock: Arc<SessionClock>,
    pub session: Recipient<Beat>,
}

/// Stop watching a session (it is closing).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unwatch(pub u64);

/// How a session reaches the heartbeat.
#[derive(Clone)]
pub struct HeartbeatHandle {
    pub watch: Recipient<Watch>,
    pub unwatch: Recipient<Unwatch>,
}

// ---------------------------------------------------------------- registry

/// The user already has the maximum number of sessions (close 4029).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManySessions;

/// An authenticated session asks to join its user's hub.
#[derive(Message)]
#[rtype(result = "Result<(), TooManySessions>")]
pub struct Admit {
    pub user: UserId,
    pub link: SessionLink,
}

/// An admitted session ended.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Depart {
    pub user: UserId,
    pub session_id: u64,
}

/// How a session reaches the registry.
#[derive(Clone)]
pub struct RegistryHandle {
    pub admit: Recipient<Admit>,
    pub depart: Recipient<Depart>,
}

/// An event for a user's sessions on this node.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Deliver {
    pub user: UserId,
    pub event: UserEvent,
}

/// Sent by a hub's lifeline when the hub is gone.
#[derive(Message)]
#[rtype(result = "()")]
pub struct HubExited {
    pub user: UserId,
    pub generation: u64,
    pub panicked: bool,
}

/// A credential ended (contract §5), here or on another node: the registry
/// closes the sessions it bound and tells this node's authentication caches.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct Control(pub ControlEvent);

/// Close every session with 1001 (server shutdown); answers how many.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct CloseAll;

/// Open sessions and connected users, for `/health`.
#[derive(Message)]
#[rtype(result = "(usize, usize)")]
pub struct Stats;

/// Redis is back after an outage: every hub catches up from storage on what
/// other nodes stored since `since`.
#[derive(Message, Clone, Copy)]
#[rtype(result = "()")]
pub struct CatchUp {
    pub since: DateTime<Utc>,
    /// Only users on this shard, as (shard, number of shards); `None`: all.
    pub shard: Option<(usize, usize)>,
}

/// Fault injection for the supervision test: the user's hub panics. Only
/// in builds with the `fault-injection` feature (the tests').
#[cfg(feature = "fault-injection")]
#[derive(Message)]
#[rtype(result = "bool")]
pub struct CrashHub(pub UserId);

// ---------------------------------------------------------------- hubs

/// A session joins the user's hub.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Join(pub SessionLink);

/// A session left.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Leave(pub u64);

/// An event for every session of this user.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Fanout(pub UserEvent);

/// The registry retires the hub (its last session left).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Retire;

/// The hub panics (fault injection, see `CrashHub`).
#[cfg(feature = "fault-injection")]
#[derive(Message)]
#[rtype(result = "()")]
pub struct Crash;

/// How the registry reaches one hub.
#[derive(Clone)]
pub struct HubHandle {
    pub join: Recipient<Join>,
    pub leave: Recipient<Leave>,
    pub fanout: Recipient<Fanout>,
    pub retire: Recipient<Retire>,
    pub catch_up: Recipient<CatchUp>,
    #[cfg(feature = "fault-injection")]
    pub crash: Recipient<Crash>,
}

/// Starts a hub for a user with its sessions; the registry calls it with
/// the hub's generation (so a late exit of an old hub is told apart).
pub type HubFactory = Box<dyn Fn(UserId, Vec<SessionLink>, u64) -> HubHandle>;

// ---------------------------------------------------------------- redis

/// A hub of this user started on this node: subscribe its channel.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribe(pub UserId);

/// A hub of this user stopped on this node.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unsubscribe(pub UserId);

/// How a hub reaches the Redis subscriber of its user's shard.
#[derive(Clone)]
pub struct SubscriberHandle {
    pub subscribe: Recipient<Subscribe>,
    pub unsubscribe: Recipient<Unsubscribe>,
}

// ---------------------------------------------------------------- writer

/// Store these alerts (all or nothing) and deliver the new ones.
#[derive(Message)]
#[rtype(result = "Result<Vec<Stored>, StorageError>")]
pub struct StoreAlerts {
    pub alerts: Vec<NewAlert>,
    pub triggered_at_ms: i64,
    /// Deliver alerts that were already stored, too. The ingest consumer
    /// sets it for entries it took over from a dead node, which may have
    /// stored them and died before handing them to delivery; hubs drop an
    /// alert they already delivered, so nothing is shown twice.
    pub redeliver_existing: bool,
}

// ---------------------------------------------------------------- storage
// The `DbActor`'s messages are in `storage`.
