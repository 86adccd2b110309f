//! `WsSession`: one per WebSocket, in the idiom of actix's chat example.
//!
//! A session authenticates before it exists (the HTTP upgrade handler does
//! that), asks the `Registry` to admit it, greets, replays what the client
//! missed, then goes live. While admission and replay run, the actor waits
//! (`ctx.wait`), so frames the hub sends meanwhile queue in the mailbox and
//! come out after the replay; any live alert the replay already sent is
//! skipped by id. That is how an alert created during the connect is sent
//! exactly once.
//!
//! The session also owns the per-socket rules: heartbeat, the client message
//! rate, frame kinds and sizes, and the outbound bound (the hub counts what
//! it queued; the session counts down as it writes).
//!
//! `Rejected` is the tiny actor for a handshake that failed authentication:
//! it completes the upgrade only to close with 4003, as browsers cannot read
//! the HTTP status of a refused upgrade.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web_actors::ws::{self, CloseCode, CloseReason};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::db::{DbActor, ReplaySince, UnreadCount, db_result};
use super::registry::{Admit, Depart, Registry};
use super::{Outbound, Outbox, SessionLink};
use crate::config::Limits;
use crate::connect_limit::ConnectLimiter;
use crate::delivery::{Delivery, now_ms};
use crate::metrics::{Metrics, Rejection};
use crate::models::domain::format_timestamp;
use crate::models::{AlertView, UserId};
use crate::protocol::{AlertMessage, ClientMessage, ErrorCode, GREETING, ServerMessage};
use crate::read_state;

/// What every session shares: one allocation for all of them.
pub struct SessionServices {
    pub registry: Addr<Registry>,
    pub connect_limiter: ConnectLimiter,
    pub db: Addr<DbActor>,
    pub delivery: Delivery,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
}

static NEXT_SESSION_ID: AtomicU64 = AtomicU64::new(1);

pub struct WsSession {
    id: u64,
    user: UserId,
    services: Arc<SessionServices>,
    since: Option<i64>,
    /// Live alerts with an id up to this were already sent by the replay:
    /// skip them. (Not `since` itself: a client whose `since` is ahead of
    /// the server's ids, e.g. after a database restore, must still get
    /// new alerts.)
    replayed_up_to: i64,
    admitted: bool,
    last_heard: Instant,
    last_ping: Instant,
    outbox: Arc<Outbox>,
    limiter: DefaultDirectRateLimiter,
}

impl WsSession {
    pub fn new(user: UserId, since: Option<i64>, services: Arc<SessionServices>) -> Self {
        let limits = &services.limits;
        let rate = NonZeroU32::new(limits.messages_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limits.message_burst).unwrap_or(rate);
        let now = Instant::now();
        Self {
            id: NEXT_SESSION_ID.fetch_add(1, Ordering::Relaxed),
            user,
            since,
            replayed_up_to: 0,
            admitted: false,
            last_heard: now,
            last_ping: now,
            outbox: Arc::default(),
            limiter: RateLimiter::direct(Quota::per_second(rate).allow_burst(burst)),
            services,
        }
    }

    fn send(&self, ctx: &mut ws::WebsocketContext<Self>, message: &ServerMessage<'_>) {
        ctx.text(message.to_json());
        self.services.metrics.messages_sent.inc();
    }

    fn send_error(&self, ctx: &mut ws::WebsocketContext<Self>, code: ErrorCode, message: &str) {
        self.send(ctx, &ServerMessage::Error { code, message });
    }

    fn close(ctx: &mut ws::WebsocketContext<Self>, code: CloseCode, reason: &str) {
        ctx.close(Some(CloseReason {
            code,
            description: Some(reason.to_owned()),
        }));
        ctx.stop();
    }

    /// One timer per session: pings every heartbeat interval and reaps the
    /// session once nothing arrived for the client timeout. It ticks more
    /// often than it pings so that reaping happens close to the timeout.
    fn start_heartbeat(&self, ctx: &mut ws::WebsocketContext<Self>) {
        let limits = &self.services.limits;
        let tick = (limits.heartbeat_interval / 3).max(Duration::from_millis(10));
        ctx.run_interval(tick, |act, ctx| {
            let now = Instant::now();
            let limits = &act.services.limits;
            if now.duration_since(act.last_heard) >= limits.client_timeout {
                log::debug!("session {} of user {} timed out", act.id, act.user);
                Self::close(ctx, CloseCode::Away, "heartbeat timeout");
                return;
            }
            if now.duration_since(act.last_ping) >= limits.heartbeat_interval {
                act.last_ping = now;
                ctx.ping(b"");
            }
        });
    }

    fn greet(&self, ctx: &mut ws::WebsocketContext<Self>) {
        let now = format_timestamp(chrono::Utc::now());
        self.send(
            ctx,
            &ServerMessage::ConnectionEstablished {
                message: GREETING,
                user_id: self.user.as_str(),
                timestamp: &now,
            },
        );
    }

    /// Sends what the client missed; the actor handles nothing else meanwhile.
    fn replay(&mut self, since: i64, ctx: &mut ws::WebsocketContext<Self>) {
        let query = ReplaySince {
            user: self.user.clone(),
            since,
            max: self.services.limits.replay_max,
        };
        self.services
            .db
            .send(query)
            .into_actor(self)
            .map(|result, act, ctx| match db_result(result) {
                Ok((rows, truncated)) => {
                    let now = format_timestamp(chrono::Utc::now());
                    for row in &rows {
                        let alert = AlertView::from(row);
                        act.send(
                            ctx,
                            &ServerMessage::BreachAlert {
                                message: AlertMessage {
                                    alert: &alert,
                                    replayed: true,
                                },
                                timestamp: &now,
                            },
                        );
                        act.replayed_up_to = act.replayed_up_to.max(row.id);
                    }
                    if let (true, Some(oldest)) = (truncated, rows.first()) {
                        act.send(
                            ctx,
                            &ServerMessage::ReplayTruncated {
                                oldest_alert_id: oldest.id,
                            },
                        );
                    }
                }
                Err(e) => {
                    log::warn!("replay for user {} failed: {e}", act.user);
                    act.send_error(
                        ctx,
                        ErrorCode::Unavailable,
                        "storage is unavailable: the replay was not sent",
                    );
                }
            })
            .wait(ctx);
    }

    fn on_client_message(&mut self, message: ClientMessage, ctx: &mut ws::WebsocketContext<Self>) {
        let services = self.services.clone();
        let user = self.user.clone();
        match message {
            ClientMessage::Ping { timestamp } => {
                let now = format_timestamp(chrono::Utc::now());
                self.send(
                    ctx,
                    &ServerMessage::Pong {
                        timestamp: &timestamp,
                        server_time: &now,
                    },
                );
            }
            ClientMessage::SubscribeToUpdates => {
                let now = format_timestamp(chrono::Utc::now());
                self.send(
                    ctx,
                    &ServerMessage::Subscribed {
                        user_id: self.user.as_str(),
                        timestamp: &now,
                    },
                );
            }
            ClientMessage::GetUnreadCount => {
                services
                    .db
                    .send(UnreadCount(user))
                    .into_actor(self)
                    .map(|result, act, ctx| match db_result(result) {
                        Ok(count) => act.send(ctx, &ServerMessage::UnreadCount { count }),
                        Err(_) => {
                            act.send_error(ctx, ErrorCode::Unavailable, "storage is unavailable")
                        }
                    })
                    .spawn(ctx);
            }
            ClientMessage::MarkRead { alert_id } => {
                async move {
                    read_state::mark_read(&services.db, &services.delivery, &user, alert_id).await
                }
                .into_actor(self)
                .map(move |result, act, ctx| match result {
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        let msg = format!("no alert {alert_id} for this user");
                        act.send_error(ctx, ErrorCode::NotFound, &msg);
                    }
                    Err(_) => act.send_error(ctx, ErrorCode::Unavailable, "storage is unavailable"),
                })
                .spawn(ctx);
            }
            ClientMessage::MarkAllRead => {
                async move { read_state::mark_all_read(&services.db, &services.delivery, &user).await }
                    .into_actor(self)
                    .map(|result, act, ctx| {
                        if result.is_err() {
                            act.send_error(ctx, ErrorCode::Unavailable, "storage is unavailable");
                        }
                    })
                    .spawn(ctx);
            }
        }
    }
}

impl Actor for WsSession {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.start_heartbeat(ctx);
        let services = self.services.clone();
        let user = self.user.clone();
        let link = SessionLink {
            id: self.id,
            addr: ctx.address(),
            outbox: self.outbox.clone(),
        };
        // Count the attempt, then ask to join; nothing else is handled until
        // both answered (and the replay is sent), so no frame can precede
        // `connection_established` or a 4029 close.
        async move {
            if !services.connect_limiter.allow(&user).await {
                return Err((Rejection::RateLimited, "rate limited"));
            }
            match services.registry.send(Admit { user, link }).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(_)) => Err((Rejection::TooManySessions, "too many sessions")),
                Err(_) => Err((Rejection::Unavailable, "server is shutting down")),
            }
        }
        .into_actor(self)
        .map(|result, act, ctx| match result {
            Ok(()) => {
                act.admitted = true;
                act.greet(ctx);
                if let Some(since) = act.since {
                    act.replay(since, ctx);
                }
            }
            Err((why, reason)) => {
                act.services.metrics.rejected(why);
                let code = match why {
                    Rejection::Unavailable => CloseCode::Error,
                    _ => CloseCode::Other(4029),
                };
                Self::close(ctx, code, reason);
            }
        })
        .wait(ctx);
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        if self.admitted {
            self.services.registry.do_send(Depart {
                user: self.user.clone(),
                session_id: self.id,
            });
        }
    }
}

impl Handler<Outbound> for WsSession {
    type Result = ();

    fn handle(&mut self, msg: Outbound, ctx: &mut Self::Context) {
        self.outbox.queued.fetch_sub(1, Ordering::AcqRel);
        let frame = msg.0;
        if frame.alert_id.is_some_and(|id| id <= self.replayed_up_to) {
            return;
        }
        ctx.text(frame.text.clone());
        let metrics = &self.services.metrics;
        metrics.messages_sent.inc();
        if let Some(t) = frame.triggered_at_ms {
            metrics
                .trigger_to_send
                .observe((now_ms() - t).max(0) as f64 / 1000.0);
        }
    }
}

/// The hub could not queue more frames for this session.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SlowConsumer;

impl Handler<SlowConsumer> for WsSession {
    type Result = ();

    fn handle(&mut self, _: SlowConsumer, ctx: &mut Self::Context) {
        log::info!(
            "session {} of user {} fell behind; closing with 1013",
            self.id,
            self.user
        );
        self.services.metrics.slow_consumers.inc();
        Self::close(ctx, CloseCode::Again, "slow consumer: reconnect with since");
    }
}

/// The server is shutting down.
#[derive(Message)]
#[rtype(result = "()")]
pub struct GoingAway;

impl Handler<GoingAway> for WsSession {
    type Result = ();

    fn handle(&mut self, _: GoingAway, ctx: &mut Self::Context) {
        Self::close(ctx, CloseCode::Away, "server shutting down");
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for WsSession {
    fn handle(&mut self, item: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        let message = match item {
            Ok(message) => message,
            Err(ws::ProtocolError::Overflow) => {
                return Self::close(ctx, CloseCode::Size, "frame too large (64 KiB at most)");
            }
            Err(e) => {
                log::debug!("session {}: protocol error: {e}", self.id);
                return Self::close(ctx, CloseCode::Protocol, "protocol error");
            }
        };
        self.last_heard = Instant::now();
        match message {
            ws::Message::Text(text) => {
                if self.limiter.check().is_err() {
                    self.services.metrics.client_messages_dropped.inc();
                    return self.send_error(
                        ctx,
                        ErrorCode::RateLimited,
                        "too many messages; this one was dropped",
                    );
                }
                match ClientMessage::parse(&text) {
                    Ok(message) => self.on_client_message(message, ctx),
                    Err(e) => self.send_error(ctx, e.code, &e.message),
                }
            }
            ws::Message::Ping(payload) => ctx.pong(&payload),
            ws::Message::Pong(_) | ws::Message::Nop => {}
            ws::Message::Binary(_) => Self::close(
                ctx,
                CloseCode::Unsupported,
                "binary frames are not supported",
            ),
            ws::Message::Continuation(_) => Self::close(
                ctx,
                CloseCode::Unsupported,
                "fragmented messages are not supported",
            ),
            ws::Message::Close(reason) => {
                ctx.close(reason);
                ctx.stop();
            }
        }
    }
}

/// A handshake that failed authentication: close with 4003 and nothing else.
pub struct Rejected {
    pub reason: &'static str,
}

impl Actor for Rejected {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.close(Some(CloseReason {
            code: CloseCode::Other(4003),
            description: Some(self.reason.to_owned()),
        }));
        ctx.stop();
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for Rejected {
    fn handle(&mut self, _: Result<ws::Message, ws::ProtocolError>, _: &mut Self::Context) {}
}
