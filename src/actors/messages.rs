//! Every message one actor sends another, and the handles (`Recipient`s)
//! an actor is given at start to reach the others. No actor file names
//! another actor's type: each declares only its own state and handlers, and
//! `startup` wires the handles. Storage messages (answered by the
//! `DbActor`) are declared here too, with their result types; those of
//! Web Push are in `messages::push`.

pub mod push;

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use actix::prelude::*;
use chrono::{DateTime, NaiveDateTime, Utc};

use crate::models::{AlertRow, NewAlert, NewAlertRow, UserId};
use crate::protocol::{Close, Frame, UserEvent};
use crate::storage::{AlertFilter, PurgeStep, StorageError};

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
    /// Close with this code and reason (shutdown, sign-out, revocation).
    Close(Close),
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
/// atomic store per frame), read by the heartbeat once a tick.
#[derive(Debug)]
pub struct SessionClock {
    last_heard_ms: AtomicU64,
}

impl SessionClock {
    pub fn new() -> Self {
        Self {
            last_heard_ms: AtomicU64::new(clock_ms()),
        }
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
}

/// Start watching a session.
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

/// One stored alert and whether this request created it.
pub type Stored = (AlertRow, bool);

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

/// Flattens the answer of a `send` to the `DbActor`: a DbActor that cannot
/// take messages any more is storage being unavailable, like a failed query.
pub fn db_result<T>(
    sent: Result<Result<T, StorageError>, MailboxError>,
) -> Result<T, StorageError> {
    sent.unwrap_or_else(|e| Err(StorageError::Unavailable(e.to_string())))
}

/// Stores alerts in one transaction; each result says whether it was new.
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<Stored>, StorageError>")]
pub struct InsertAlerts(pub Vec<NewAlertRow>);

/// A page of a user's alerts, newest first (one extra row tells if more
/// exist), and the user's unread count.
#[derive(Debug, Message)]
#[rtype(result = "Result<(Vec<AlertRow>, i64), StorageError>")]
pub struct ListAlerts {
    pub user: UserId,
    pub filter: AlertFilter,
    pub limit: i64,
}

#[derive(Debug, Message)]
#[rtype(result = "Result<i64, StorageError>")]
pub struct UnreadCount(pub UserId);

/// Marks one alert read and tells every session of the user (`alert_update`
/// then `unread_count`); `None` if the user has no such alert.
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<AlertRow>, StorageError>")]
pub struct MarkRead {
    pub user: UserId,
    pub alert_id: i64,
}

/// Marks all of a user's alerts read and tells every session; returns how
/// many changed.
#[derive(Debug, Message)]
#[rtype(result = "Result<usize, StorageError>")]
pub struct MarkAllRead(pub UserId);

/// Alerts after `since`, oldest first, at most `max`, and whether more were skipped.
#[derive(Debug, Message)]
#[rtype(result = "Result<(Vec<AlertRow>, bool), StorageError>")]
pub struct ReplaySince {
    pub user: UserId,
    pub since: i64,
    pub max: i64,
}

/// A user's alerts stored at or after a time, oldest first (multi-node catch-up).
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<AlertRow>, StorageError>")]
pub struct AlertsCreatedSince {
    pub user: UserId,
    pub since: NaiveDateTime,
    pub max: i64,
}

/// The user an opaque token belongs to, if it is live.
#[derive(Message)]
#[rtype(result = "Result<Option<String>, StorageError>")]
pub struct TokenUser(pub String);

impl std::fmt::Debug for TokenUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenUser(***)")
    }
}

/// One step of the retention purge: examine at most `window` alerts above
/// id `after`, delete the read ones created before `cutoff`.
#[derive(Debug, Message)]
#[rtype(result = "Result<PurgeStep, StorageError>")]
pub struct PurgeRead {
    pub cutoff: NaiveDateTime,
    pub after: i64,
    pub window: i64,
}

/// A round trip to the database, for `/ready`.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), StorageError>")]
pub struct Ping;

/// What a session asks of storage.
#[derive(Clone)]
pub struct SessionStorage {
    pub replay: Recipient<ReplaySince>,
    pub unread: Recipient<UnreadCount>,
    pub mark_read: Recipient<MarkRead>,
    pub mark_all_read: Recipient<MarkAllRead>,
}

/// What a hub asks of storage (the catch-up after a Redis outage).
#[derive(Clone)]
pub struct HubStorage {
    pub since: Recipient<AlertsCreatedSince>,
    pub unread: Recipient<UnreadCount>,
}
