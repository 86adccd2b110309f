//! Every message one actor sends another, and the handles (`Recipient`s)
//! an actor is given at start to reach the others. Sessions and hubs, of
//! which there is one per socket and per user, are reached through their
//! one address behind a trait instead (`SessionLink` in `link`, `HubPort`):
//! a `Recipient` is a boxed copy of an address. No actor file names
//! another actor's type: each declares only its own state and handlers, and
//! `startup` wires the handles. Storage messages (answered by the
//! `DbActor`) are declared in `storage`, with their result types; those of
//! Web Push are in `push`.

mod link;
pub mod push;
mod storage;

pub use self::link::*;
pub use self::storage::*;

use actix::prelude::*;
use chrono::{DateTime, Utc};

use crate::models::{NewAlert, UserId};
use crate::protocol::{ControlEvent, UserEvent};
use crate::storage::StorageError;

// ---------------------------------------------------------------- heartbeat

/// Start watching a session (its clock is in its link), or (sent again
/// after a refresh moved its expiry) reschedule its checks.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Watch(pub SessionLink);

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
#[rtype(result = "Result<Listening, TooManySessions>")]
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

/// What a group of hubs' catch-up found, once the registry's one query for
/// all of them has answered (`Failed`: it did not; the registry logged it).
#[derive(Clone)]
pub enum Found {
    Waiting,
    Missed(std::sync::Arc<crate::storage::Missed>),
    Failed,
}

/// To a hub: catch up from what `found` will hold, and deliver nothing
/// newer before it (the hub waits for it as it would for its own query).
#[derive(Message)]
#[rtype(result = "()")]
pub struct CatchUpFrom(pub tokio::sync::watch::Receiver<Found>);

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

/// How the registry reaches one hub: the hub's one address behind a
/// trait, so the registry names no hub type. (A `Recipient` per message
/// would be a boxed clone of the address each — three allocations apiece,
/// five per hub, so per connected user.)
pub trait HubPort {
    fn join(&self, msg: Join);
    fn leave(&self, msg: Leave);
    fn fanout(&self, msg: Fanout);
    fn retire(&self, msg: Retire);
    fn catch_up(&self, msg: CatchUpFrom);
    #[cfg(feature = "fault-injection")]
    fn crash(&self, msg: Crash);
}

impl<A> HubPort for Addr<A>
where
    A: Actor<Context = Context<A>>
        + Handler<Join>
        + Handler<Leave>
        + Handler<Fanout>
        + Handler<Retire>
        + Handler<CatchUpFrom>
        + HubCrash,
{
    fn join(&self, msg: Join) {
        self.do_send(msg);
    }
    fn leave(&self, msg: Leave) {
        self.do_send(msg);
    }
    fn fanout(&self, msg: Fanout) {
        self.do_send(msg);
    }
    fn retire(&self, msg: Retire) {
        self.do_send(msg);
    }
    fn catch_up(&self, msg: CatchUpFrom) {
        self.do_send(msg);
    }
    #[cfg(feature = "fault-injection")]
    fn crash(&self, msg: Crash) {
        self.do_send(msg);
    }
}

/// A hub handles `Crash` in builds with fault injection (and nothing is
/// asked of it otherwise).
#[cfg(feature = "fault-injection")]
pub trait HubCrash: Actor<Context = Context<Self>> + Handler<Crash> {}
#[cfg(feature = "fault-injection")]
impl<A: Actor<Context = Context<A>> + Handler<Crash>> HubCrash for A {}
#[cfg(not(feature = "fault-injection"))]
pub trait HubCrash {}
#[cfg(not(feature = "fault-injection"))]
impl<A> HubCrash for A {}

pub type HubHandle = Box<dyn HubPort>;

/// Starts a hub for a user with its sessions; the registry calls it with
/// the hub's generation (so a late exit of an old hub is told apart).
pub type HubFactory = Box<dyn Fn(UserId, Vec<SessionLink>, u64) -> HubHandle>;

// ---------------------------------------------------------------- redis

/// The first session of this user on this node: subscribe their channel,
/// and say so on `listening` once Redis confirmed it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribe {
    pub user: UserId,
    pub listening: tokio::sync::watch::Sender<bool>,
}

/// The last session of this user on this node ended.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unsubscribe(pub UserId);

/// How the registry reaches the Redis subscriber of a user's shard.
#[derive(Clone)]
pub struct SubscriberHandle {
    pub subscribe: Recipient<Subscribe>,
    pub unsubscribe: Recipient<Unsubscribe>,
}

/// An admitted session's wait for its node to hear the user's Redis
/// channel, so nothing another node publishes after the greeting is
/// missed. Ready at once on a single node; also ready when the subscriber
/// gives up on the connection (`Subscribe::listening` dropped), because the
/// catch-up after the outage then covers the session.
#[derive(Clone)]
pub struct Listening(Option<tokio::sync::watch::Receiver<bool>>);

impl Listening {
    /// Ready at once.
    pub fn now() -> Self {
        Self(None)
    }

    /// Ready when `listening` says `true` or is dropped.
    pub fn when(listening: tokio::sync::watch::Receiver<bool>) -> Self {
        Self(Some(listening))
    }

    /// Whether waiting would return at once.
    pub fn is_ready(&self) -> bool {
        self.0
            .as_ref()
            .is_none_or(|rx| *rx.borrow() || rx.has_changed().is_err())
    }

    pub async fn wait(self) {
        if let Some(mut rx) = self.0 {
            let _ = rx.wait_for(|listening| *listening).await;
        }
    }
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
