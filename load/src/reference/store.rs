//! Everything the reference keeps, in memory: per user, the ids of its
//! breach ids (idempotency), its newest 1,000 alerts (for `since` replay)
//! and its open sessions' outbound queues. Users are spread over shards,
//! each behind its own mutex, so two triggers for different users rarely
//! wait for each other.
//!
//! Exactly once across a replay: a session is attached and its replay is
//! taken under the same lock that a new alert takes to be recorded and
//! pushed, so every alert is either in the replay or in the queue, never
//! both, never neither.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use super::outbox::Outbox;

/// Alerts replayed at most, as the contract says.
pub const REPLAY_MAX: usize = 1_000;
/// A session whose queue is over this is closed with 1013.
pub const QUEUE_MAX: usize = 1_024;
const SHARDS: usize = 64;

/// One alert in the queue of a session: the frame to send.
pub type Outbound = Arc<str>;

/// How the store reaches one open session.
pub struct SessionLink {
    pub id: u64,
    /// The session's queue; full, it marks itself overflowed and the
    /// session closes with 1013.
    pub outbox: Arc<Outbox<Outbound>>,
}

#[derive(Default)]
struct User {
    by_breach: HashMap<Box<str>, i64>,
    /// Newest last: (alert id, message JSON).
    recent: VecDeque<(i64, Arc<str>)>,
    /// The newest id no longer in `recent` (0: none dropped).
    dropped_max: i64,
    sessions: Vec<SessionLink>,
}

/// What a trigger did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub alert_id: i64,
    pub created: bool,
}

/// What a session is owed right after `connection_established`.
#[derive(Debug, Default, PartialEq)]
pub struct Replay {
    /// Oldest first: the messages of the user's alerts with a larger id than `since`.
    pub messages: Vec<Arc<str>>,
    /// When more existed than were kept or replayed: the smallest id replayed.
    pub truncated_at: Option<i64>,
}

pub struct Store {
    hasher: RandomState,
    shards: Vec<Mutex<HashMap<Box<str>, User>>>,
    next_id: AtomicI64,
    next_session: AtomicU64,
    connections: AtomicUsize,
    users_online: AtomicUsize,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            next_id: AtomicI64::new(1),
            next_session: AtomicU64::new(1),
            connections: AtomicUsize::new(0),
            users_online: AtomicUsize::new(0),
        }
    }
}

impl Store {
    fn shard(&self, user: &str) -> std::sync::MutexGuard<'_, HashMap<Box<str>, User>> {
        let i = self.hasher.hash_one(user) as usize % SHARDS;
        // A poisoned shard only means a panic elsewhere; its data is still whole.
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Relaxed)
    }

    pub fn users_online(&self) -> usize {
        self.users_online.load(Relaxed)
    }

    pub fn new_session_id(&self) -> u64 {
        self.next_session.fetch_add(1, Relaxed)
    }

    /// Records an alert for `user` unless `breach_id` is known, and pushes
    /// `frame(message)` to every open session of the user. `message` builds
    /// the stored message for a new id; `frame` wraps it for the socket.
    pub fn trigger(
        &self,
        user: &str,
        breach_id: &str,
        message: impl FnOnce(i64) -> String,
        frame: impl Fn(&str) -> String,
    ) -> Stored {
        let mut shard = self.shard(user);
        let u = shard.entry(user.into()).or_default();
        if let Some(&alert_id) = u.by_breach.get(breach_id) {
            return Stored {
                alert_id,
                created: false,
            };
        }
        let alert_id = self.next_id.fetch_add(1, Relaxed);
        u.by_breach.insert(breach_id.into(), alert_id);
        let message: Arc<str> = message(alert_id).into();
        if !u.sessions.is_empty() {
            let frame: Outbound = frame(&message).into();
            u.sessions.retain(|s| s.outbox.push(frame.clone()));
            if u.sessions.is_empty() {
                self.users_online.fetch_sub(1, Relaxed);
            }
        }
        if u.recent.len() == REPLAY_MAX
            && let Some((dropped, _)) = u.recent.pop_front()
        {
            u.dropped_max = dropped;
        }
        u.recent.push_back((alert_id, message));
        Stored {
            alert_id,
            created: true,
        }
    }

    /// Attaches a session; with `since`, answers what it must replay first.
    pub fn attach(&self, user: &str, link: SessionLink, since: Option<i64>) -> Replay {
        let mut shard = self.shard(user);
        let u = shard.entry(user.into()).or_default();
        if u.sessions.is_empty() {
            self.users_online.fetch_add(1, Relaxed);
        }
        u.sessions.push(link);
        self.connections.fetch_add(1, Relaxed);
        let Some(since) = since else {
            return Replay::default();
        };
        let newer: Vec<&(i64, Arc<str>)> = u.recent.iter().filter(|(id, _)| *id > since).collect();
        // Some alerts newer than `since` are no longer kept.
        let truncated_at = (u.dropped_max > since)
            .then(|| newer.first().map(|(id, _)| *id))
            .flatten();
        Replay {
            messages: newer.into_iter().map(|(_, m)| m.clone()).collect(),
            truncated_at,
        }
    }

    /// Detaches a session (also when the store already dropped it).
    pub fn detach(&self, user: &str, session: u64) {
        self.connections.fetch_sub(1, Relaxed);
        let mut shard = self.shard(user);
        if let Some(u) = shard.get_mut(user) {
            let had = !u.sessions.is_empty();
            u.sessions.retain(|s| s.id != session);
            if had && u.sessions.is_empty() {
                self.users_online.fetch_sub(1, Relaxed);
            }
            if u.sessions.is_empty() && u.by_breach.is_empty() {
                shard.remove(user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(store: &Store, cap: usize) -> (SessionLink, Arc<Outbox<Outbound>>) {
        let outbox = Arc::new(Outbox::new(cap));
        let l = SessionLink {
            id: store.new_session_id(),
            outbox: outbox.clone(),
        };
        (l, outbox)
    }

    fn one(o: &Outbox<Outbound>) -> Option<String> {
        let mut q = o.take();
        assert!(q.len() <= 1, "{q:?}");
        q.pop_front().map(|f| f.to_string())
    }

    fn trig(s: &Store, user: &str, breach: &str) -> Stored {
        s.trigger(user, breach, |id| format!("m{id}"), |m| format!("F{m}"))
    }

    #[test]
    fn triggers_are_idempotent_and_ids_increase() {
        let s = Store::default();
        let a = trig(&s, "u", "b1");
        let b = trig(&s, "u", "b2");
        assert!(a.created && b.created && b.alert_id > a.alert_id);
        assert_eq!(
            trig(&s, "u", "b1"),
            Stored {
                alert_id: a.alert_id,
                created: false
            }
        );
    }

    #[test]
    fn alerts_reach_every_open_session_of_their_user_only() {
        let s = Store::default();
        let (l1, r1) = link(&s, 8);
        let (l2, r2) = link(&s, 8);
        let (l3, r3) = link(&s, 8);
        s.attach("u", l1, None);
        s.attach("u", l2, None);
        s.attach("v", l3, None);
        assert_eq!((s.connections(), s.users_online()), (3, 2));
        let a = trig(&s, "u", "b");
        let expect = format!("Fm{}", a.alert_id);
        assert_eq!(one(&r1), Some(expect.clone()));
        assert_eq!(one(&r2), Some(expect));
        assert_eq!(one(&r3), None);
        trig(&s, "u", "b");
        assert_eq!(one(&r1), None, "an existing alert is not pushed again");
    }

    #[test]
    fn replay_is_what_came_after_since_and_overflow_closes() {
        let s = Store::default();
        let ids: Vec<i64> = (0..5)
            .map(|k| trig(&s, "u", &format!("b{k}")).alert_id)
            .collect();
        let (l, _r) = link(&s, 8);
        let replay = s.attach("u", l, Some(ids[2]));
        let want: Vec<String> = ids[3..].iter().map(|id| format!("m{id}")).collect();
        assert_eq!(
            replay
                .messages
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>(),
            want
        );
        assert_eq!(replay.truncated_at, None);
        // A full queue: the session is told to close and no longer receives.
        let (l, r) = link(&s, 1);
        let sid = l.id;
        s.attach("w", l, None);
        trig(&s, "w", "x1");
        trig(&s, "w", "x2");
        trig(&s, "w", "x3");
        assert!(r.overflowed());
        assert_eq!(r.take().len(), 1, "nothing is queued after the overflow");
        s.detach("w", sid);
        assert_eq!((s.connections(), s.users_online()), (1, 1));
    }

    #[test]
    fn replays_beyond_what_is_kept_are_truncated() {
        let s = Store::default();
        let first = trig(&s, "u", "b0").alert_id;
        for k in 1..REPLAY_MAX + 5 {
            trig(&s, "u", &format!("b{k}"));
        }
        let (l, _r) = link(&s, 8);
        let replay = s.attach("u", l, Some(first - 1));
        assert_eq!(replay.messages.len(), REPLAY_MAX);
        assert_eq!(replay.truncated_at, Some(first + 5));
    }

    #[test]
    fn detach_counts_down() {
        let s = Store::default();
        let (l, _r) = link(&s, 8);
        let id = l.id;
        s.attach("u", l, None);
        s.detach("u", id);
        assert_eq!((s.connections(), s.users_online()), (0, 0));
    }
}
