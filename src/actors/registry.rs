//! `Registry`: the root actor. It knows every open session by user, starts
//! a user's `AlertHub` with their first session and retires it with their
//! last, restarts a hub that died, and enforces the per-user limits: the
//! connect rate (a sliding window of attempts) and the session cap.
//!
//! The registry, not the hub, owns the list of a user's sessions: that list
//! is what survives a hub crash, so a restarted hub serves the same tabs.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::SessionLink;
use super::hub::{AlertHub, Crash, Fanout, Join, Leave, Retire};
use super::session::GoingAway;
use crate::delivery::UserEvent;
use crate::metrics::Metrics;
use crate::models::UserId;

/// Per-user limits the registry enforces.
#[derive(Debug, Clone)]
pub struct AdmissionLimits {
    pub connect_limit: u32,
    pub connect_window: Duration,
    pub max_sessions: usize,
    pub outbound_queue: usize,
}

struct HubEntry {
    addr: Addr<AlertHub>,
    generation: u64,
    sessions: HashMap<u64, SessionLink>,
}

pub struct Registry {
    limits: AdmissionLimits,
    metrics: Arc<Metrics>,
    hubs: HashMap<UserId, HubEntry>,
    attempts: HashMap<UserId, VecDeque<Instant>>,
    next_generation: u64,
    connections: usize,
}

impl Registry {
    pub fn new(limits: AdmissionLimits, metrics: Arc<Metrics>) -> Self {
        Self {
            limits,
            metrics,
            hubs: HashMap::new(),
            attempts: HashMap::new(),
            next_generation: 0,
            connections: 0,
        }
    }

    fn start_hub(
        &mut self,
        user: &UserId,
        sessions: Vec<SessionLink>,
        ctx: &mut Context<Self>,
    ) -> (Addr<AlertHub>, u64) {
        self.next_generation += 1;
        let generation = self.next_generation;
        let hub = AlertHub::new(
            user.clone(),
            sessions,
            self.limits.outbound_queue,
            ctx.address(),
            generation,
        );
        (hub.start(), generation)
    }

    /// Counts this attempt; true if it is within the sliding window's limit.
    fn attempt_allowed(&mut self, user: &UserId, now: Instant) -> bool {
        let window = self.limits.connect_window;
        let attempts = self.attempts.entry(user.clone()).or_default();
        while attempts
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            attempts.pop_front();
        }
        attempts.push_back(now);
        attempts.len() <= self.limits.connect_limit as usize
    }

    fn update_gauges(&self) {
        self.metrics.connections.set(self.connections as i64);
        self.metrics.users.set(self.hubs.len() as i64);
    }
}

impl Actor for Registry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Forget users whose attempts have all left the window, so the map
        // does not grow with every user ever seen.
        let every = self.limits.connect_window.max(Duration::from_secs(1));
        ctx.run_interval(every, |act, _| {
            let now = Instant::now();
            let window = act.limits.connect_window;
            act.attempts
                .retain(|_, a| a.back().is_some_and(|t| now.duration_since(*t) < window));
        });
    }
}

/// Why a session was not admitted; both close with 4029.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    RateLimited,
    TooManySessions,
}

/// An authenticated session asks to join its user's hub.
#[derive(Message)]
#[rtype(result = "Result<(), Refusal>")]
pub struct Admit {
    pub user: UserId,
    pub link: SessionLink,
}

impl Handler<Admit> for Registry {
    type Result = Result<(), Refusal>;

    fn handle(&mut self, msg: Admit, ctx: &mut Context<Self>) -> Self::Result {
        if !self.attempt_allowed(&msg.user, Instant::now()) {
            return Err(Refusal::RateLimited);
        }
        if self
            .hubs
            .get(&msg.user)
            .is_some_and(|e| e.sessions.len() >= self.limits.max_sessions)
        {
            return Err(Refusal::TooManySessions);
        }
        match self.hubs.get_mut(&msg.user) {
            Some(entry) => {
                entry.addr.do_send(Join(msg.link.clone()));
                entry.sessions.insert(msg.link.id, msg.link);
            }
            None => {
                let (addr, generation) = self.start_hub(&msg.user, vec![msg.link.clone()], ctx);
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

    fn handle(&mut self, msg: HubExited, ctx: &mut Context<Self>) {
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
        let (addr, generation) = self.start_hub(&msg.user, sessions, ctx);
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
