//! `Registry`: the root actor. It knows every open session by user, starts
//! a user's `AlertHub` with their first session and retires it with their
//! last, restarts a hub that died, and enforces the per-user session cap.
//! (The connect rate is counted before a session asks to be admitted, in
//! `rate_limit::connect`, because in multi-node mode it is counted in Redis.)
//!
//! The registry, not the hub, owns the list of a user's sessions: that list
//! is what survives a hub crash, so a restarted hub serves the same tabs.
//! Hubs are started through the `HubFactory` given at construction.
//!
//! In multi-node mode it also owns the user's Redis subscription, for as
//! long as the user has a session here (a hub restart does not interrupt
//! it), and admits a session with a `Listening` to wait on: a session is
//! greeted only once this node hears what other nodes publish to its user.
//! When a Redis shard returns after an outage, it asks storage what that
//! shard's users missed — once per group of hubs — and hands each hub its
//! group's answer (`CatchUp`).
//!
//! A credential that ends (`Control`, contract §5) reaches the registry
//! from this node or, through Redis, from another: it tells this node's
//! authentication caches (`on_control`) and closes the sessions concerned —
//! all of a signed-out user's but the one named, or the ones bound to a
//! revoked token (each session knows which tokens it was bound to).

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use tokio::sync::watch;

use super::messages::{
    Admit, CatchUp, CatchUpFrom, CloseAll, Control, Deliver, Depart, Fanout, Found, HubExited,
    HubFactory, HubHandle, Join, Leave, Listening, MissedBy, Retire, SessionControl, SessionLink,
    Stats, Subscribe, SubscriberHandle, TooManySessions, Unsubscribe, db_result,
};
use crate::models::UserId;
use crate::protocol::{Close, ControlEvent};
use crate::redis::shard::shard_of;
use crate::telemetry::metrics::Metrics;

/// The fewest pending subscriptions worth pruning.
const PRUNE_AT_LEAST: usize = 64;

/// Users per storage call of a catch-up, and the most alerts delivered to
/// each (oldest first; a session gets the rest with its next replay).
const CATCH_UP_GROUP: usize = 500;
const CATCH_UP_PER_USER: i64 = 1000;

struct HubEntry {
    hub: HubHandle,
    generation: u64,
    /// At most `max_sessions` (a few): a list costs less than a map for
    /// every connected user.
    sessions: Vec<SessionLink>,
}

/// What a node's authentication caches do when a credential ends.
pub type OnControl = Box<dyn Fn(&ControlEvent)>;

pub struct Registry {
    max_sessions: usize,
    start_hub: HubFactory,
    /// The Redis subscribers, one per shard (none on a single node).
    subscribers: Vec<SubscriberHandle>,
    on_control: OnControl,
    metrics: Arc<Metrics>,
    /// Storage, for the catch-up after a Redis outage.
    missed: Recipient<MissedBy>,
    hubs: HashMap<UserId, HubEntry>,
    /// Users whose subscription Redis has not confirmed yet: their next
    /// sessions wait for it too. Pruned when it doubles, so a confirmed
    /// one costs nothing per user for long.
    pending: HashMap<UserId, Listening>,
    prune_at: usize,
    next_generation: u64,
    connections: usize,
}

impl Registry {
    pub fn new(
        max_sessions: usize,
        start_hub: HubFactory,
        subscribers: Vec<SubscriberHandle>,
        on_control: OnControl,
        metrics: Arc<Metrics>,
        missed: Recipient<MissedBy>,
    ) -> Self {
        Self {
            max_sessions,
            start_hub,
            subscribers,
            on_control,
            metrics,
            missed,
            hubs: HashMap::new(),
            pending: HashMap::new(),
            prune_at: PRUNE_AT_LEAST,
            next_generation: 0,
            connections: 0,
        }
    }

    fn start_hub(&mut self, user: &UserId, sessions: Vec<SessionLink>) -> (HubHandle, u64) {
        self.next_generation += 1;
        let generation = self.next_generation;
        (
            (self.start_hub)(user.clone(), sessions, generation),
            generation,
        )
    }

    /// The Redis subscriber of the user's shard, if any.
    fn subscriber(&self, user: &UserId) -> Option<&SubscriberHandle> {
        self.subscribers.get(shard_of(user, self.subscribers.len()))
    }

    /// Subscribes the channel of a user who had no session here.
    fn listen(&mut self, user: &UserId) -> Listening {
        let Some(subscriber) = self.subscriber(user) else {
            return Listening::now();
        };
        let (listening, rx) = tokio::sync::watch::channel(false);
        subscriber.subscribe.do_send(Subscribe {
            user: user.clone(),
            listening,
        });
        let listening = Listening::when(rx);
        if self.pending.len() >= self.prune_at {
            self.pending.retain(|_, l| !l.is_ready());
            self.prune_at = (2 * self.pending.len()).max(PRUNE_AT_LEAST);
        }
        self.pending.insert(user.clone(), listening.clone());
        listening
    }

    /// What a session of a user who has a hub here waits for.
    fn listening(&self, user: &UserId) -> Listening {
        self.pending
            .get(user)
            .filter(|l| !l.is_ready())
            .cloned()
            .unwrap_or_else(Listening::now)
    }

    fn update_gauges(&self) {
        self.metrics.connections.set(self.connections as i64);
        self.metrics.users.set(self.hubs.len() as i64);
    }
}

impl Actor for Registry {
    type Context = Context<Self>;
}

impl Handler<Admit> for Registry {
    type Result = Result<Listening, TooManySessions>;

    fn handle(&mut self, msg: Admit, _: &mut Context<Self>) -> Self::Result {
        if self
            .hubs
            .get(&msg.user)
            .is_some_and(|e| e.sessions.len() >= self.max_sessions)
        {
            return Err(TooManySessions);
        }
        let listening = match self.hubs.get_mut(&msg.user) {
            Some(entry) => {
                entry.hub.join(Join(msg.link.clone()));
                entry.sessions.push(msg.link);
                self.listening(&msg.user)
            }
            None => {
                let listening = self.listen(&msg.user);
                let (hub, generation) = self.start_hub(&msg.user, vec![msg.link.clone()]);
                let sessions = vec![msg.link];
                self.hubs.insert(
                    msg.user,
                    HubEntry {
                        hub,
                        generation,
                        sessions,
                    },
                );
                listening
            }
        };
        self.connections += 1;
        self.update_gauges();
        Ok(listening)
    }
}

impl Handler<Depart> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Depart, _: &mut Context<Self>) {
        let Some(entry) = self.hubs.get_mut(&msg.user) else {
            return;
        };
        let Some(at) = entry.sessions.iter().position(|s| s.id == msg.session_id) else {
            return;
        };
        entry.sessions.swap_remove(at);
        self.connections -= 1;
        if entry.sessions.is_empty() {
            entry.hub.retire(Retire);
            self.hubs.remove(&msg.user);
            self.pending.remove(&msg.user);
            if let Some(subscriber) = self.subscriber(&msg.user) {
                subscriber.unsubscribe.do_send(Unsubscribe(msg.user));
            }
        } else {
            entry.hub.leave(Leave(msg.session_id));
        }
        self.update_gauges();
    }
}

impl Handler<Deliver> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Deliver, _: &mut Context<Self>) {
        if let Some(entry) = self.hubs.get(&msg.user) {
            entry.hub.fanout(Fanout(msg.event));
        }
    }
}

impl Handler<HubExited> for Registry {
    type Result = ();

    fn handle(&mut self, msg: HubExited, _: &mut Context<Self>) {
        // A retired hub's entry is already gone, or belongs to a newer hub.
        let Some(entry) = self.hubs.get(&msg.user) else {
            return;
        };
        if entry.generation != msg.generation {
            return;
        }
        let sessions = entry.sessions.clone();
        log::error!(
            "hub of user {} stopped unexpectedly{}; restarting it for {} session(s)",
            msg.user,
            if msg.panicked { " (panic)" } else { "" },
            sessions.len()
        );
        self.metrics.hub_restarts.inc();
        let (hub, generation) = self.start_hub(&msg.user, sessions);
        if let Some(entry) = self.hubs.get_mut(&msg.user) {
            entry.hub = hub;
            entry.generation = generation;
        }
    }
}

impl Handler<CloseAll> for Registry {
    type Result = usize;

    fn handle(&mut self, _: CloseAll, _: &mut Context<Self>) -> usize {
        let mut n = 0;
        for session in self.hubs.values().flat_map(|e| &e.sessions) {
            session
                .port
                .control(SessionControl::Close(Close::ShuttingDown));
            n += 1;
        }
        n
    }
}

impl Handler<Control> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Control, _: &mut Context<Self>) {
        (self.on_control)(&msg.0);
        let (user, order) = match &msg.0 {
            ControlEvent::TokenRevoked { user, token_hash } => {
                let mut hash = [0u8; 32];
                if hex::decode_to_slice(token_hash, &mut hash).is_err() {
                    return;
                }
                (user, (SessionControl::TokenRevoked(hash), None))
            }
            ControlEvent::SignedOut {
                user,
                except_session,
                ..
            } => (
                user,
                (
                    SessionControl::Close(Close::SignedOut),
                    except_session.as_deref(),
                ),
            ),
        };
        let Some(entry) = UserId::parse(user).ok().and_then(|u| self.hubs.get(&u)) else {
            return;
        };
        let (control, except) = order;
        for session in &entry.sessions {
            if except != Some(session.session_id.as_str()) {
                session.port.control(control);
            }
        }
    }
}

impl Handler<Stats> for Registry {
    type Result = MessageResult<Stats>;

    fn handle(&mut self, _: Stats, _: &mut Context<Self>) -> Self::Result {
        MessageResult((self.connections, self.hubs.len()))
    }
}

/// After a Redis outage, the hubs of the shard that returned catch up in
/// groups of `CATCH_UP_GROUP`, one storage call per group, one group at a
/// time: a shard of 33,000 users made each node ask storage twice per hub
/// at once, and every trigger of every user waited seconds behind those
/// queries (docs/capacity.md, "Seventeenth session").
impl Handler<CatchUp> for Registry {
    type Result = ();

    fn handle(&mut self, msg: CatchUp, _: &mut Context<Self>) {
        let mut groups = Vec::new();
        let mut users = Vec::new();
        let mut found = watch::channel(Found::Waiting);
        for (user, entry) in &self.hubs {
            if msg
                .shard
                .is_some_and(|(shard, of)| shard_of(user, of) != shard)
            {
                continue;
            }
            entry.hub.catch_up(CatchUpFrom(found.1.clone()));
            users.push(user.as_str().to_owned());
            if users.len() == CATCH_UP_GROUP {
                groups.push((std::mem::take(&mut users), found.0));
                found = watch::channel(Found::Waiting);
            }
        }
        if !users.is_empty() {
            groups.push((users, found.0));
        }
        if groups.is_empty() {
            return;
        }
        let missed = self.missed.clone();
        let since = msg.since.naive_utc();
        actix::spawn(async move {
            let (mut caught_up, mut alerts) = (0, 0);
            for (users, tell) in groups {
                let n = users.len();
                let ask = missed.send(MissedBy {
                    users,
                    since,
                    per_user: CATCH_UP_PER_USER,
                });
                let _ = tell.send(match db_result(ask.await) {
                    Ok(found) => {
                        caught_up += n;
                        alerts += found.len();
                        Found::Missed(Arc::new(found))
                    }
                    Err(e) => {
                        log::warn!("catch-up of {n} user(s) after the Redis outage failed: {e}");
                        Found::Failed
                    }
                });
            }
            log::info!(
                "caught up {caught_up} user(s) after the Redis outage: {alerts} alert(s) stored meanwhile"
            );
        });
    }
}

#[cfg(feature = "fault-injection")]
impl Handler<super::messages::CrashHub> for Registry {
    type Result = bool;

    fn handle(&mut self, msg: super::messages::CrashHub, _: &mut Context<Self>) -> bool {
        match self.hubs.get(&msg.0) {
            Some(entry) => {
                entry.hub.crash(super::messages::Crash);
                true
            }
            None => false,
        }
    }
}
