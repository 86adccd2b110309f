//! `Heartbeat`: one timer for every session of the node, instead of one per
//! session.
//!
//! A session that is admitted asks to be watched, handing over its
//! `SessionLink`: its `SessionClock` (the time its last frame arrived,
//! which the session updates with one atomic store per frame) and its
//! address, shared with the registry and the hub. Each
//! tick the heartbeat reads every clock — an atomic load per session, no
//! wake-up — and tells a session only when it must act: `Beat::Ping` once
//! per ping interval (sessions are spread over the interval's ticks, so
//! pings do not come in one burst), `Beat::TimedOut` once nothing arrived
//! for the client timeout, `Beat::Expired` once the expiry of its credential
//! (contract §5, a second atomic in the same clock) has passed. An idle
//! session therefore wakes once per ping interval, and the cost of the
//! timer does not grow with a wake-up per session per tick. Sessions opened
//! with an introspected token (a flag in the same clock) get `Beat::Recheck`
//! once per re-check period. The tick is
//! 250 ms at most, so an expiry is acted on well within the contract's 1 s.

use std::collections::HashMap;
use std::time::Duration;

use actix::prelude::*;

use super::messages::{Beat, SessionLink, Unwatch, Watch, clock_ms};
use crate::models::time::now_ms;

struct Watched {
    /// The session's clock and address.
    link: SessionLink,
    /// The tick, modulo the ping interval, at which this session is pinged.
    slot: u64,
}

pub struct Heartbeat {
    tick: Duration,
    /// Ticks per ping interval.
    ticks_per_ping: u64,
    timeout_ms: u64,
    /// Ticks per re-check of introspected tokens (0: none configured).
    ticks_per_recheck: u64,
    ticks: u64,
    sessions: HashMap<u64, Watched>,
}

impl Heartbeat {
    /// Pings every `interval` and times a session out after `timeout` of
    /// silence. The tick is 250 ms at most (expiry), and finer when the interval
    /// is short (tests), so a timeout is noticed within one tick.
    pub fn new(interval: Duration, timeout: Duration, recheck: Option<Duration>) -> Self {
        let tick = (interval / 3)
            .min(timeout / 5)
            .clamp(Duration::from_millis(10), Duration::from_millis(250));
        let ticks_per_ping = (interval.as_millis() / tick.as_millis().max(1)).max(1) as u64;
        let ticks_per_recheck = recheck.map_or(0, |r| {
            (r.as_millis() / tick.as_millis().max(1)).max(1) as u64
        });
        Self {
            tick,
            ticks_per_ping,
            ticks_per_recheck,
            timeout_ms: timeout.as_millis() as u64,
            ticks: 0,
            sessions: HashMap::new(),
        }
    }

    fn on_tick(&mut self) {
        self.ticks += 1;
        let now = clock_ms();
        let unix_now = u64::try_from(now_ms()).unwrap_or(0);
        let slot = self.ticks % self.ticks_per_ping;
        let recheck =
            self.ticks_per_recheck != 0 && self.ticks.is_multiple_of(self.ticks_per_recheck);
        let timeout = self.timeout_ms;
        self.sessions.retain(|_, s| {
            let (clock, session) = (&s.link.clock, &s.link.port);
            if clock.silent_for_ms(now) >= timeout {
                session.beat(Beat::TimedOut);
                return false;
            }
            if clock.take_expired(unix_now) {
                session.beat(Beat::Expired);
            }
            if recheck && clock.rechecks() {
                session.beat(Beat::Recheck);
            }
            if s.slot == slot {
                session.beat(Beat::Ping);
            }
            true
        });
    }
}

impl Actor for Heartbeat {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.tick, |act, _| act.on_tick());
    }
}

impl Handler<Watch> for Heartbeat {
    type Result = ();

    fn handle(&mut self, Watch(link): Watch, _: &mut Self::Context) {
        let id = link.id;
        let slot = id % self.ticks_per_ping;
        self.sessions.insert(id, Watched { link, slot });
    }
}

impl Handler<Unwatch> for Heartbeat {
    type Result = ();

    fn handle(&mut self, msg: Unwatch, _: &mut Self::Context) {
        self.sessions.remove(&msg.0);
    }
}
