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

use std::sync::Arc;
use std::sync::atomic::Ordering;

use actix::prelude::*;

use super::registry::{HubExited, Registry};
use super::session::SlowConsumer;
use super::{Frame, Outbound, SessionLink};
use crate::delivery::UserEvent;
use crate::models::UserId;
use crate::models::domain::format_timestamp;
use crate::protocol::{AlertMessage, ServerMessage, UpdateMessage};

pub struct AlertHub {
    user: UserId,
    sessions: Vec<SessionLink>,
    outbound_limit: usize,
    _lifeline: Lifeline,
}

impl AlertHub {
    pub fn new(
        user: UserId,
        sessions: Vec<SessionLink>,
        outbound_limit: usize,
        registry: Addr<Registry>,
        generation: u64,
    ) -> Self {
        let lifeline = Lifeline {
            user: user.clone(),
            generation,
            registry,
        };
        Self {
            user,
            sessions,
            outbound_limit,
            _lifeline: lifeline,
        }
    }

    fn frame(event: &UserEvent) -> Frame {
        let now = format_timestamp(chrono::Utc::now());
        match event {
            UserEvent::Alert {
                alert,
                triggered_at_ms,
            } => Frame {
                text: ServerMessage::BreachAlert {
                    message: AlertMessage {
                        alert,
                        replayed: false,
                    },
                    timestamp: &now,
                }
                .to_json()
                .into(),
                alert_id: Some(alert.alert_id),
                triggered_at_ms: Some(*triggered_at_ms),
            },
            UserEvent::Update {
                alert_id,
                update_type,
                timestamp,
            } => Frame {
                text: ServerMessage::AlertUpdate {
                    message: UpdateMessage {
                        alert_id: *alert_id,
                        update_type: *update_type,
                        timestamp,
                    },
                }
                .to_json()
                .into(),
                alert_id: None,
                triggered_at_ms: None,
            },
            UserEvent::UnreadCount { count } => Frame {
                text: ServerMessage::UnreadCount { count: *count }
                    .to_json()
                    .into(),
                alert_id: None,
                triggered_at_ms: None,
            },
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
    registry: Addr<Registry>,
}

impl Drop for Lifeline {
    fn drop(&mut self) {
        self.registry.do_send(HubExited {
            user: self.user.clone(),
            generation: self.generation,
            panicked: std::thread::panicking(),
        });
    }
}

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

/// Fault injection for the supervision test: the hub panics.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Crash;

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
        let frame = Arc::new(Self::frame(&msg.0));
        for session in &self.sessions {
            // Over the bound, the session gets no more frames; it closes with
            // 1013 the next time it runs and recovers with `since`.
            let queued = session.outbox.queued.fetch_add(1, Ordering::AcqRel);
            if queued >= self.outbound_limit {
                session.outbox.queued.fetch_sub(1, Ordering::AcqRel);
                if !session.outbox.overflowed.swap(true, Ordering::AcqRel) {
                    session.addr.do_send(SlowConsumer);
                }
                continue;
            }
            session.addr.do_send(Outbound(frame.clone()));
        }
    }
}

impl Handler<Retire> for AlertHub {
    type Result = ();
    fn handle(&mut self, _: Retire, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl Handler<Crash> for AlertHub {
    type Result = ();
    fn handle(&mut self, _: Crash, _: &mut Context<Self>) {
        panic!("fault injected into the hub of user {}", self.user);
    }
}
