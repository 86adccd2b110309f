//! `Heartbeat`: one timer for every session of the node, instead of one per
//! session — and one timer wheel, so an idle session costs work only when
//! one of its checks falls due.
//!
//! A session that is admitted asks to be watched, handing over its
//! `SessionClock` (the time its last frame arrived, which the session
//! updates with one atomic store per frame; the expiry of its credential)
//! and a `Recipient<Beat>`. The heartbeat ticks every 250 ms at most and
//! keeps, per tick, the checks due then (`wheel`); a tick looks at those
//! sessions only, not at every session:
//! - `Beat::Ping` once per ping interval (sessions are spread over the
//!   interval's ticks by id, so pings do not come in one burst);
//! - silence: due when the client timeout would pass if nothing arrived
//!   since the last look; if something did, the check moves to the new
//!   deadline, else `Beat::TimedOut`;
//! - expiry (contract §5): due at the credential's expiry, then
//!   `Beat::Expired`. A refresh that moves it sends `Watch` again, which
//!   reschedules every check of the session;
//! - `Beat::Recheck` once per re-check period for sessions opened with an
//!   introspected token.
//!
//! Before the wheel, every tick read every session's clock: four reads per
//! session per second, cache misses all, which was most of an idle node's
//! CPU (issue 15). Now an idle session answering pings is looked at about
//! twice per ping interval. Each session records the tick each of its
//! checks is due at, so a session that leaves (or is watched again) takes
//! its entries out at once: the wheel never holds more than four entries
//! per watched session, however many come and go. Actions are one tick
//! late at most, so an expiry is acted on well within the contract's 1 s.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use actix::prelude::*;

use super::messages::{Beat, SessionLink, Unwatch, Watch, clock_ms};
use crate::models::time::now_ms;

/// The kinds of check the wheel holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Check {
    Ping,
    Silence,
    Expiry,
    Recheck,
}

struct Watched {
    /// The session's clock and address.
    link: SessionLink,
    /// The tick each check is due at (`None`: not scheduled).
    ping: u64,
    silence: u64,
    expiry: Option<u64>,
    recheck: Option<u64>,
}

impl Watched {
    /// The session's entries in the wheel.
    fn entries(&self, id: u64) -> impl Iterator<Item = (u64, u64, Check)> {
        [
            Some((self.ping, id, Check::Ping)),
            Some((self.silence, id, Check::Silence)),
            self.expiry.map(|at| (at, id, Check::Expiry)),
            self.recheck.map(|at| (at, id, Check::Recheck)),
        ]
        .into_iter()
        .flatten()
    }
}

pub struct Heartbeat {
    tick: Duration,
    tick_ms: u64,
    /// Ticks per ping interval.
    ticks_per_ping: u64,
    timeout_ms: u64,
    /// Ticks per re-check of introspected tokens (0: none configured).
    ticks_per_recheck: u64,
    ticks: u64,
    sessions: HashMap<u64, Watched>,
    /// (tick, session, check), in the order they fall due.
    wheel: BTreeSet<(u64, u64, Check)>,
}

impl Heartbeat {
    /// Pings every `interval` and times a session out after `timeout` of
    /// silence. The tick is 250 ms at most (expiry), and finer when the interval
    /// is short (tests), so a timeout is noticed within one tick.
    pub fn new(interval: Duration, timeout: Duration, recheck: Option<Duration>) -> Self {
        let tick = (interval / 3)
            .min(timeout / 5)
            .clamp(Duration::from_millis(10), Duration::from_millis(250));
        let tick_ms = (tick.as_millis() as u64).max(1);
        let ticks_per_ping = (interval.as_millis() as u64 / tick_ms).max(1);
        let ticks_per_recheck = recheck.map_or(0, |r| (r.as_millis() as u64 / tick_ms).max(1));
        Self {
            tick,
            tick_ms,
            ticks_per_ping,
            ticks_per_recheck,
            timeout_ms: timeout.as_millis() as u64,
            ticks: 0,
            sessions: HashMap::new(),
            wheel: BTreeSet::new(),
        }
    }

    /// The first tick at or after `ms` from now (at least the next one).
    fn tick_in(&self, ms: u64) -> u64 {
        tick_after(self.ticks, self.tick_ms, ms)
    }

    fn on_tick(&mut self) {
        self.ticks += 1;
        let now = clock_ms();
        let unix_now = u64::try_from(now_ms()).unwrap_or(0);
        while let Some(&(at, id, check)) = self.wheel.first() {
            if at > self.ticks {
                break;
            }
            self.wheel.pop_first();
            self.fire(id, check, at, now, unix_now);
        }
    }

    /// Acts on the check of session `id` that fell due at tick `at`, and
    /// schedules its next one.
    fn fire(&mut self, id: u64, check: Check, at: u64, now: u64, unix_now: u64) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        // `self.tick_in` would borrow all of `self` while `s` is held.
        let (ticks, tick_ms) = (self.ticks, self.tick_ms);
        let tick_in = |ms: u64| tick_after(ticks, tick_ms, ms);
        let next = match check {
            Check::Ping => {
                s.link.port.beat(Beat::Ping);
                s.ping = at + self.ticks_per_ping;
                Some(s.ping)
            }
            Check::Silence => {
                let silent = s.link.clock.silent_for_ms(now);
                if silent >= self.timeout_ms {
                    s.link.port.beat(Beat::TimedOut);
                    let gone = self.sessions.remove(&id);
                    for entry in gone.iter().flat_map(|s| s.entries(id)) {
                        self.wheel.remove(&entry);
                    }
                    return;
                }
                s.silence = tick_in(self.timeout_ms - silent);
                Some(s.silence)
            }
            Check::Expiry => {
                s.expiry = if s.link.clock.take_expired(unix_now) {
                    s.link.port.beat(Beat::Expired);
                    None
                } else {
                    // Not yet: the tick came early, or a refresh moved it.
                    s.link
                        .clock
                        .expiry_ms()
                        .map(|at| tick_in(at.saturating_sub(unix_now)))
                };
                s.expiry
            }
            Check::Recheck => {
                s.recheck = s.link.clock.rechecks().then(|| {
                    s.link.port.beat(Beat::Recheck);
                    ticks + self.ticks_per_recheck
                });
                s.recheck
            }
        };
        if let Some(next) = next {
            self.wheel.insert((next, id, check));
        }
    }

    /// Stops watching session `id`, taking its entries out of the wheel.
    fn forget(&mut self, id: u64) {
        if let Some(gone) = self.sessions.remove(&id) {
            for entry in gone.entries(id) {
                self.wheel.remove(&entry);
            }
        }
    }
}

/// The first tick at or after `ms` past tick `ticks` (at least the next).
fn tick_after(ticks: u64, tick_ms: u64, ms: u64) -> u64 {
    ticks + ms.div_ceil(tick_ms).max(1)
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
        self.forget(id);
        let now = clock_ms();
        let unix_now = u64::try_from(now_ms()).unwrap_or(0);
        // Each session keeps its place in the ping interval (by id), also
        // when it is watched again after a refresh.
        let (first, per) = (self.ticks + 1, self.ticks_per_ping);
        let ping = first + (id % per + per - first % per) % per;
        let silence = self.tick_in(
            self.timeout_ms
                .saturating_sub(link.clock.silent_for_ms(now)),
        );
        let expiry = link
            .clock
            .expiry_ms()
            .map(|at| self.tick_in(at.saturating_sub(unix_now)));
        let recheck = (self.ticks_per_recheck != 0 && link.clock.rechecks())
            .then(|| self.ticks + self.ticks_per_recheck);
        let watched = Watched {
            link,
            ping,
            silence,
            expiry,
            recheck,
        };
        self.wheel.extend(watched.entries(id));
        self.sessions.insert(id, watched);
    }
}

impl Handler<Unwatch> for Heartbeat {
    type Result = ();

    fn handle(&mut self, msg: Unwatch, _: &mut Self::Context) {
        self.forget(msg.0);
    }
}
