//! `Registry`: the root actor. It knows every open session by user, starts
//! a user's `AlertHub` with their first session and retires it with their
//! last, restarts a hub that died, and enforces the per-user session cap.
//! (The connect rate is counted before a session asks to be admitted, in
//! `connect_limit`, because in multi-node mode it is counted in Redis.)
//!
//! The registry, not the hub, owns the list of a user's sessions: that list
//! is what survives a hub crash, so a restarted hub serves the same tabs.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;

use super::SessionLink;
use super::db::DbActor;
use super::hub::{
    AlertHub, CatchUp as HubCatchUp, Crash, Fanout, HubServices, Join, Leave, Retire,
};
use super::redis_subscriber::RedisSubscriber;
use super::session::GoingAway;
use crate::delivery::UserEvent;
use crate::metrics::Metrics;
use crate::models::UserId;

struct HubEntry {
    addr: Addr<AlertHub>,
    generation: u64,
    sessions: HashMap<u64, SessionLink>,
}

pub struct Registry {
    max_sessions: usize,
    hub_services: HubServices,
    metrics: Arc<Metrics>,
    hubs: HashMap<UserId, HubEntry>,
    next_generation: u64,
    connections: usize,
}

impl Registry {
    /// Built inside `Registry::create`, which gives the address hubs report to.
    pub fn new(
        max_sessions: usize,
        db: Addr<DbActor>,
        outbound_limit: usize,
        metrics: Arc<Metrics>,
        ctx: &mut Context<Self>,
    ) -> Self {
        Self {
            max_sessions,
            hub_services: HubServices {
                registry: ctx.address(),
                db,
                subscriber: None,
                outbound_limit,
            },
            metrics,
            hubs: HashMap::new(),
            next_generation: 0,
            connections: 0,
        }
    }

    fn start_hub(&mut self, user: &UserId, sessions: Vec<SessionLink>) -> (Addr<AlertHub>, u64) {
        self.next_generation += 1;
        let generation = self.next_generation;
        let hub = AlertHub::new(
            user.clone(),
            sessions,
            self.hub_services.clone(),
            generation,
        );
        (hub.start(), generation)
    }

    fn update_gauges(&self) {
        self.metrics.connections.set(self.connections as i64);
        self.metrics.users.set(self.hubs.len() as i64);
    }
}

impl Actor for Registry {
    type Context = Context<Self>;
}

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

impl Handler<Admit> for Registry {
    type Result = Result<(), TooManySessions>;

    fn handle(&mut self, msg: Admit, _: &mut Context<Self>) -> Self::Result {
        if self
            .hubs
            .get(&msg.user)
            .is_some_and(|e| e.sessions.len() >= self.max_sessions)
        {
            return Err(TooManySessions);
        }
        match self.hubs.get_mut(&msg.user) {
            Some(entry) => {
                entry.addr.do_send(Join(msg.link.clone()));
                entry.sessions.insert(msg.link.id, msg.link);
            }
            None => {
                let (addr, generation) = self.start_hub(&msg.user, vec![msg.link.clone()]);
                let sessions = HashMap::from([(msg.link.id, msg.link)]);
                self.hubs.insert(
                    msg.user,
                    HubEntry {
                        addr,
                        generation,
                        sessions,
                    },
                );
            }
        }
        self.connections += 1;
        self.update_gauges();
        Ok(())
    }
}

/// An admitted session ended.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Depart {
    pub user: UserId,
    pub session_id: u64,
}

impl Handler<Depart> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Depart, _: &mut Context<Self>) {
        let Some(entry) = self.hubs.get_mut(&msg.user) else {
            return;
        };
        if entry.sessions.remove(&msg.session_id).is_none() {
            return;
        }
        self.connections -= 1;
        if entry.sessions.is_empty() {
            entry.addr.do_send(Retire);
            self.hubs.remove(&msg.user);
        } else {
            entry.addr.do_send(Leave(msg.session_id));
        }
        self.update_gauges();
    }
}

/// An event for a user's sessions on this node.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Deliver {
    pub user: UserId,
    pub event: UserEvent,
}

impl Handler<Deliver> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Deliver, _: &mut Context<Self>) {
        if let Some(entry) = self.hubs.get(&msg.user) {
            entry.addr.do_send(Fanout(msg.event));
        }
    }
}

/// Sent by a hub's lifeline when the hub is gone.
#[derive(Message)]
#[rtype(result = "()")]
pub struct HubExited {
    pub user: UserId,
    pub generation: u64,
    pub panicked: bool,
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
        let sessions: Vec<SessionLink> = entry.sessions.values().cloned().collect();
        log::error!(
            "hub of user {} stopped unexpectedly{}; restarting it for {} session(s)",
            msg.user,
            if msg.panicked { " (panic)" } else { "" },
            sessions.len()
        );
        self.metrics.hub_restarts.inc();
        let (addr, generation) = self.start_hub(&msg.user, sessions);
        if let Some(entry) = self.hubs.get_mut(&msg.user) {
            entry.addr = addr;
            entry.generation = generation;
        }
    }
}

/// Close every session with 1001 (server shutdown); answers how many.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct CloseAll;

impl Handler<CloseAll> for Registry {
    type Result = usize;

    fn handle(&mut self, _: CloseAll, _: &mut Context<Self>) -> usize {
        let mut n = 0;
        for session in self.hubs.values().flat_map(|e| e.sessions.values()) {
            session.addr.do_send(GoingAway);
            n += 1;
        }
        n
    }
}

/// Open sessions and connected users, for `/health`.
#[derive(Message)]
#[rtype(result = "(usize, usize)")]
pub struct Stats;

impl Handler<Stats> for Registry {
    type Result = MessageResult<Stats>;

    fn handle(&mut self, _: Stats, _: &mut Context<Self>) -> Self::Result {
        MessageResult((self.connections, self.hubs.len()))
    }
}

/// Fault injection for tests: make the user's hub panic. Not reachable from
/// the network; only code holding the registry's address can send it.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct CrashHub(pub UserId);

impl Handler<CrashHub> for Registry {
    type Result = bool;

    fn handle(&mut self, msg: CrashHub, _: &mut Context<Self>) -> bool {
        match self.hubs.get(&msg.0) {
            Some(entry) => {
                entry.addr.do_send(Crash);
                true
            }
            None => false,
        }
    }
}

/// Multi-node mode: hubs started from now on subscribe through this actor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AttachSubscriber(pub Addr<RedisSubscriber>);

impl Handler<AttachSubscriber> for Registry {
    type Result = ();

    fn handle(&mut self, msg: AttachSubscriber, _: &mut Context<Self>) {
        self.hub_services.subscriber = Some(msg.0);
    }
}

/// Redis is back after an outage: every hub catches up from storage.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CatchUp {
    pub since: chrono::DateTime<chrono::Utc>,
}

impl Handler<CatchUp> for Registry {
    type Result = ();

    fn handle(&mut self, msg: CatchUp, _: &mut Context<Self>) {
        for entry in self.hubs.values() {
            entry.addr.do_send(HubCatchUp { since: msg.since });
        }
    }
}
