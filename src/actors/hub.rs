//! `AlertHub`: one per connected user, fanning that user's events out to
//! each of their sessions.
//!
//! The hub serialises an event once and shares the frame with every
//! session. It enforces the outbound bound: a session with more than the
//! limit of frames not yet written is told to close with 1013 instead of
//! being queued more. The `Registry` owns the list of sessions and starts,
//! stops and restarts hubs; a hub keeps a copy for fan-out. If a hub dies
//! (a panic in a handler), its `Lifeline` tells the registry on drop, which
//! starts a new hub for the same sessions.
//!
//! In multi-node mode (the registry subscribes the user's Redis channel)
//! the hub, after a Redis outage, catches up on alerts other nodes created
//! meanwhile, skipping ids it already delivered: the registry asks storage
//! once for a group of hubs (`CatchUpFrom`), not each hub for itself.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use actix::prelude::*;

use super::messages::{
    CatchUpFrom, Fanout, Found, HubExited, Join, Leave, Outbound, Retire, SessionControl,
    SessionLink,
};
use crate::models::{AlertView, UserId};
use crate::protocol::{Frame, UserEvent};

/// Alert ids remembered for de-duplicating a catch-up.
const REMEMBERED: usize = 1024;

/// What a hub needs besides its sessions: one allocation that every hub
/// shares (`Arc`), so a hub costs no copies of these handles.
pub struct HubServices {
    pub registry: Recipient<HubExited>,
    pub outbound_limit: usize,
}

pub struct AlertHub {
    user: UserId,
    sessions: Vec<SessionLink>,
    services: Arc<HubServices>,
    /// Recently delivered alert ids, so a catch-up sends none twice.
    delivered: BTreeSet<i64>,
    _lifeline: Lifeline,
}

impl AlertHub {
    pub fn new(
        user: UserId,
        sessions: Vec<SessionLink>,
        services: Arc<HubServices>,
        generation: u64,
    ) -> Self {
        let lifeline = Lifeline {
            user: user.clone(),
            generation,
            services: services.clone(),
        };
        Self {
            user,
            sessions,
            services,
            delivered: BTreeSet::new(),
            _lifeline: lifeline,
        }
    }

    fn fan_out(&mut self, event: &UserEvent) {
        if let UserEvent::Alert { alert, .. } = event {
            // An alert can be handed over twice (a catch-up, or an ingest
            // entry re-published by the node that took it over from a dead
            // one); sessions see it once.
            if !self.delivered.insert(alert.alert_id) {
                return;
            }
            if self.delivered.len() > REMEMBERED {
                self.delivered.pop_first();
            }
        }
        let frame = Arc::new(Frame::of_event(event));
        let limit = self.services.outbound_limit;
        for session in &self.sessions {
            // Over the bound, the session gets no more frames; it closes with
            // 1013 the next time it runs and recovers with `since`.
            let queued = session.outbox.queued.fetch_add(1, Ordering::AcqRel);
            if queued >= limit {
                session.outbox.queued.fetch_sub(1, Ordering::AcqRel);
                if !session.outbox.overflowed.swap(true, Ordering::AcqRel) {
                    session.port.control(SessionControl::SlowConsumer);
                }
                continue;
            }
            session.port.frame(Outbound(frame.clone()));
        }
    }
}

impl Actor for AlertHub {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Self::Context) {
        log::debug!(
            "hub for user {} started with {} session(s)",
            self.user,
            self.sessions.len()
        );
    }
}

/// Tells the registry when a hub is gone, however it went: dropping the
/// actor's state is the one thing that happens on a normal stop and on a
/// panic alike.
struct Lifeline {
    user: UserId,
    generation: u64,
    services: Arc<HubServices>,
}

impl Drop for Lifeline {
    fn drop(&mut self) {
        self.services.registry.do_send(HubExited {
            user: self.user.clone(),
            generation: self.generation,
            panicked: std::thread::panicking(),
        });
    }
}

impl Handler<Join> for AlertHub {
    type Result = ();
    fn handle(&mut self, msg: Join, _: &mut Context<Self>) {
        self.sessions.push(msg.0);
    }
}

impl Handler<Leave> for AlertHub {
    type Result = ();
    fn handle(&mut self, msg: Leave, _: &mut Context<Self>) {
        self.sessions.retain(|s| s.id != msg.0);
    }
}

impl Handler<Fanout> for AlertHub {
    type Result = ();
    fn handle(&mut self, msg: Fanout, _: &mut Context<Self>) {
        self.fan_out(&msg.0);
    }
}

impl Handler<CatchUpFrom> for AlertHub {
    type Result = ();

    fn handle(&mut self, msg: CatchUpFrom, ctx: &mut Context<Self>) {
        let mut found = msg.0;
        async move {
            found
                .wait_for(|f| !matches!(f, Found::Waiting))
                .await
                .map_or(Found::Failed, |f| f.clone())
        }
        .into_actor(self)
        // `wait`: nothing newer reaches the sessions before what they missed.
        .map(|found, act, _| {
            let Found::Missed(missed) = found else {
                return;
            };
            let rows: Vec<_> = missed
                .rows_of(act.user.as_str())
                .iter()
                .filter(|r| !act.delivered.contains(&r.id))
                .collect();
            for row in rows {
                let triggered_at_ms = row.created_at.and_utc().timestamp_millis();
                act.fan_out(&UserEvent::Alert {
                    alert: AlertView::from(row),
                    triggered_at_ms,
                });
            }
            // Read-state changes made on other nodes meanwhile: at least
            // the count is right again.
            act.fan_out(&UserEvent::UnreadCount {
                count: missed.count_of(act.user.as_str()),
            });
        })
        .wait(ctx);
    }
}

impl Handler<Retire> for AlertHub {
    type Result = ();
    fn handle(&mut self, _: Retire, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

#[cfg(feature = "fault-injection")]
impl Handler<super::messages::Crash> for AlertHub {
    type Result = ();
    fn handle(&mut self, _: super::messages::Crash, _: &mut Context<Self>) {
        panic!("fault injected into the hub of user {}", self.user);
    }
}
