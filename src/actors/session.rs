//! `WsSession`: one per WebSocket, in the idiom of actix's chat example.
//!
//! A session authenticates before it exists (the upgrade in `http::ws`
//! does that), asks the `Registry` to admit it, greets, replays what the
//! client missed, then goes live. Admission runs while the actor waits
//! (`ctx.wait`): nothing is read or sent before `connection_established`
//! or a 4029 close. The replay runs beside the mailbox: live frames that
//! arrive meanwhile are held and sent after it, skipping any alert the
//! replay already sent by id. That is how an alert created during the
//! connect is sent exactly once.
//!
//! The session owns the per-socket rules: frame kinds and sizes, the client
//! message rate, and the outbound bound — frames waiting in its mailbox
//! (the hub counts those), held during a replay, or waiting for the kernel
//! (the writer's queue, also counted in bytes). Over the bound it closes
//! with 1013. Liveness is the `Heartbeat` actor's: it pings and times the
//! session out without a timer per session.
//!
//! Every close frees the session's place under the per-user cap at once,
//! then gives the close frame `close_deadline` to reach the peer (and the
//! peer's answer to come back); a peer that does not take it in time gets
//! its connection reset, so a stuck peer never outlives its session.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll, Waker};

use actix::prelude::*;
use actix_http::ws::{CloseCode, CloseReason, Frame, ProtocolError};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::db::{DbActor, ReplaySince, UnreadCount, db_result};
use super::heartbeat::{Beat, Heartbeat, SessionClock, Unwatch, Watch};
use super::registry::{Admit, Depart, Registry};
use super::{Frame as OutFrame, Outbound, Outbox, SessionLink};
use crate::config::Limits;
use crate::connect_limit::ConnectLimiter;
use crate::delivery::{Delivery, now_ms};
use crate::metrics::{CloseWhy, Metrics, Rejection};
use crate::models::domain::format_timestamp;
use crate::models::{AlertRow, AlertView, UserId};
use crate::protocol::{AlertMessage, ClientMessage, ErrorCode, GREETING, ServerMessage};
use crate::read_state;
use crate::transport::{FrameReader, FrameWriter, ReadGate, Socket};

/// A replay stops writing while this much waits for the kernel, and goes
/// on once the queue is below `REPLAY_RESUME`: a replay of large alerts to
/// a reader on a slow link never looks like a slow consumer.
const REPLAY_PAUSE: usize = 128 * 1024;
const REPLAY_RESUME: usize = 32 * 1024;

/// What every session shares: one allocation for all of them.
pub struct SessionServices {
    pub registry: Addr<Registry>,
    pub heartbeat: Addr<Heartbeat>,
    pub connect_limiter: ConnectLimiter,
    pub db: Addr<DbActor>,
    pub delivery: Delivery,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
}

static NEXT_SESSION_ID: AtomicU64 = AtomicU64::new(1);

enum Phase {
    /// Waiting for the connect limit and the registry.
    Admitting,
    /// Sending missed alerts; live frames are held until it ends.
    Replaying(VecDeque<Arc<OutFrame>>),
    Live,
    /// A close frame is on its way (or the peer's was answered).
    Closing,
}

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
    phase: Phase,
    /// Set once the registry admitted the session, until it is told the
    /// session left.
    registered: bool,
    /// Why the session ended, once known (counted once in the metrics).
    ended: Option<CloseWhy>,
    writer: FrameWriter,
    /// Paused while a replay runs: client messages wait until it is done.
    reading: ReadGate,
    /// A `Flush` future is running.
    flushing: bool,
    /// The replay, paused until the writer's queue drains.
    replay_waker: Option<Waker>,
    outbox: Arc<Outbox>,
    limiter: DefaultDirectRateLimiter,
    clock: Arc<SessionClock>,
}

impl WsSession {
    /// Starts the session on an upgraded socket. `leftover` holds bytes the
    /// client sent right behind its handshake.
    pub fn start(
        io: Socket,
        leftover: &[u8],
        user: UserId,
        since: Option<i64>,
        services: Arc<SessionServices>,
    ) -> Addr<Self> {
        let limits = &services.limits;
        let reader = FrameReader::new(io.clone(), limits.max_frame_bytes, leftover);
        let writer = FrameWriter::new(io);
        if let Err(e) = writer.limit_kernel_buffer(limits.socket_send_buffer) {
            log::debug!("cannot cap a socket's send buffer: {e}");
        }
        let rate = NonZeroU32::new(limits.messages_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limits.message_burst).unwrap_or(rate);
        let session = Self {
            id: NEXT_SESSION_ID.fetch_add(1, Ordering::Relaxed),
            user,
            since,
            replayed_up_to: 0,
            phase: Phase::Admitting,
            registered: false,
            ended: None,
            reading: reader.gate(),
            writer,
            flushing: false,
            replay_waker: None,
            outbox: Arc::default(),
            limiter: RateLimiter::direct(Quota::per_second(rate).allow_burst(burst)),
            clock: Arc::default(),
            services,
        };
        Self::create(move |ctx| {
            ctx.add_stream(reader);
            session
        })
    }

    fn send(&mut self, message: &ServerMessage<'_>) {
        self.writer.text(message.to_json().as_bytes());
        self.services.metrics.messages_sent.inc();
    }

    fn send_error(&mut self, code: ErrorCode, message: &str) {
        self.send(&ServerMessage::Error { code, message });
    }

    /// Sends a live frame (the hub's), unless the replay already sent it.
    fn deliver(&mut self, frame: &OutFrame) {
        if frame.alert_id.is_some_and(|id| id <= self.replayed_up_to) {
            return;
        }
        self.writer.text(frame.text.as_bytes());
        let metrics = &self.services.metrics;
        metrics.messages_sent.inc();
        if let Some(t) = frame.triggered_at_ms {
            metrics
                .trigger_to_send
                .observe((now_ms() - t).max(0) as f64 / 1000.0);
        }
    }

    /// Frames this session holds or has not written yet, besides its mailbox.
    fn backlog_exceeded(&self) -> bool {
        let held = match &self.phase {
            Phase::Replaying(held) => held.len(),
            _ => 0,
        };
        let backlog = self.writer.backlog();
        let limits = &self.services.limits;
        held + backlog.frames > limits.outbound_queue || backlog.bytes > limits.outbound_bytes
    }

    /// Call after writing: closes a session whose peer went away or fell
    /// behind, and starts flushing whatever the kernel did not take.
    fn wrote(&mut self, ctx: &mut Context<Self>) {
        if self.writer.is_broken() {
            self.leave();
            ctx.stop();
            return;
        }
        if !matches!(self.phase, Phase::Closing) && self.backlog_exceeded() {
            self.slow_consumer(ctx);
            return;
        }
        if !self.writer.is_idle() && !self.flushing {
            self.flushing = true;
            ctx.spawn(Flush);
        }
    }

    fn slow_consumer(&mut self, ctx: &mut Context<Self>) {
        log::info!(
            "session {} of user {} fell behind; closing with 1013",
            self.id,
            self.user
        );
        self.services.metrics.slow_consumers.inc();
        self.close(
            ctx,
            CloseCode::Again,
            "slow consumer: reconnect with since",
            CloseWhy::SlowConsumer,
        );
    }

    /// Records why the session ended; the first reason wins.
    fn ended(&mut self, why: CloseWhy) {
        if self.ended.is_none() {
            self.ended = Some(why);
            self.services.metrics.closed(why);
        }
    }

    /// Tells the registry and the heartbeat that the session is gone, so
    /// its place under the per-user cap is free at once.
    fn leave(&mut self) {
        if !self.registered {
            return;
        }
        self.registered = false;
        self.services.heartbeat.do_send(Unwatch(self.id));
        self.services.registry.do_send(Depart {
            user: self.user.clone(),
            session_id: self.id,
        });
    }

    /// Closes the session with `code`. A peer that is not reading (slow,
    /// silent) loses what it never began to receive, so the close frame is
    /// next; anyone else gets the frames already queued first.
    fn close(&mut self, ctx: &mut Context<Self>, code: CloseCode, reason: &str, why: CloseWhy) {
        if matches!(self.phase, Phase::Closing) {
            return;
        }
        self.ended(why);
        self.leave();
        self.phase = Phase::Closing;
        // Read again: the peer's answer to the close ends the session early.
        self.reading.resume();
        if let Some(waker) = self.replay_waker.take() {
            waker.wake();
        }
        if matches!(why, CloseWhy::SlowConsumer | CloseWhy::Heartbeat) {
            self.writer.discard_unstarted();
        }
        self.writer.close(Some(CloseReason {
            code,
            description: Some(reason.to_owned()),
        }));
        self.wrote(ctx);
        // The frame, and the peer's answer, get a deadline; after it the
        // connection goes, reset if the frame never left.
        ctx.run_later(self.services.limits.close_deadline, |act, ctx| {
            if !act.writer.is_idle() {
                act.writer.abort();
            }
            ctx.stop();
        });
    }

    fn greet(&mut self) {
        let now = format_timestamp(chrono::Utc::now());
        let user = self.user.clone();
        self.send(&ServerMessage::ConnectionEstablished {
            message: GREETING,
            user_id: user.as_str(),
            timestamp: &now,
        });
    }

    /// Fetches what the client missed; `Replay` writes it as the socket
    /// takes it, then the held live frames follow.
    fn start_replay(&mut self, since: i64, ctx: &mut Context<Self>) {
        self.phase = Phase::Replaying(VecDeque::new());
        self.reading.pause();
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
                    let oldest = rows.first().map(|r| r.id).filter(|_| truncated);
                    ctx.spawn(Replay {
                        rows: rows.into_iter(),
                        truncated_oldest: oldest,
                        timestamp: format_timestamp(chrono::Utc::now()),
                    });
                }
                Err(e) => {
                    log::warn!("replay for user {} failed: {e}", act.user);
                    act.send_error(
                        ErrorCode::Unavailable,
                        "storage is unavailable: the replay was not sent",
                    );
                    act.go_live(ctx);
                }
            })
            .spawn(ctx);
    }

    /// The replay is done: send the live frames held meanwhile.
    fn go_live(&mut self, ctx: &mut Context<Self>) {
        self.reading.resume();
        if let Phase::Replaying(held) = std::mem::replace(&mut self.phase, Phase::Live) {
            for frame in held {
                self.deliver(&frame);
            }
        }
        self.wrote(ctx);
    }

    fn on_text(&mut self, text: &str, ctx: &mut Context<Self>) {
        if self.limiter.check().is_err() {
            self.services.metrics.client_messages_dropped.inc();
            return self.send_error(
                ErrorCode::RateLimited,
                "too many messages; this one was dropped",
            );
        }
        match ClientMessage::parse(text) {
            Ok(message) => self.on_client_message(message, ctx),
            Err(e) => self.send_error(e.code, &e.message),
        }
    }

    fn on_client_message(&mut self, message: ClientMessage, ctx: &mut Context<Self>) {
        let services = self.services.clone();
        let user = self.user.clone();
        match message {
            ClientMessage::Ping { timestamp } => {
                let now = format_timestamp(chrono::Utc::now());
                self.send(&ServerMessage::Pong {
                    timestamp: &timestamp,
                    server_time: &now,
                });
            }
            ClientMessage::SubscribeToUpdates => {
                let now = format_timestamp(chrono::Utc::now());
                self.send(&ServerMessage::Subscribed {
                    user_id: user.as_str(),
                    timestamp: &now,
                });
            }
            ClientMessage::GetUnreadCount => {
                services
                    .db
                    .send(UnreadCount(user))
                    .into_actor(self)
                    .map(|result, act, ctx| {
                        match db_result(result) {
                            Ok(count) => act.send(&ServerMessage::UnreadCount { count }),
                            Err(_) => {
                                act.send_error(ErrorCode::Unavailable, "storage is unavailable")
                            }
                        }
                        act.wrote(ctx);
                    })
                    .spawn(ctx);
            }
            ClientMessage::MarkRead { alert_id } => {
                async move {
                    read_state::mark_read(&services.db, &services.delivery, &user, alert_id).await
                }
                .into_actor(self)
                .map(move |result, act, ctx| {
                    match result {
                        Ok(Some(_)) => {}
                        Ok(None) => {
                            let msg = format!("no alert {alert_id} for this user");
                            act.send_error(ErrorCode::NotFound, &msg);
                        }
                        Err(_) => act.send_error(ErrorCode::Unavailable, "storage is unavailable"),
                    }
                    act.wrote(ctx);
                })
                .spawn(ctx);
            }
            ClientMessage::MarkAllRead => {
                async move { read_state::mark_all_read(&services.db, &services.delivery, &user).await }
                    .into_actor(self)
                    .map(|result, act, ctx| {
                        if result.is_err() {
                            act.send_error(ErrorCode::Unavailable, "storage is unavailable");
                        }
                        act.wrote(ctx);
                    })
                    .spawn(ctx);
            }
        }
    }
}

impl Actor for WsSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let services = self.services.clone();
        let user = self.user.clone();
        let link = SessionLink {
            id: self.id,
            addr: ctx.address(),
            outbox: self.outbox.clone(),
        };
        // Count the attempt, then ask to join; nothing else is handled (and
        // nothing read) until both answered, so no frame can precede
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
                act.registered = true;
                act.services.heartbeat.do_send(Watch {
                    id: act.id,
                    clock: act.clock.clone(),
                    session: ctx.address().recipient(),
                });
                act.greet();
                match act.since {
                    Some(since) => act.start_replay(since, ctx),
                    None => act.phase = Phase::Live,
                }
                act.wrote(ctx);
            }
            Err((why, reason)) => {
                act.services.metrics.rejected(why);
                let code = match why {
                    Rejection::Unavailable => CloseCode::Error,
                    _ => CloseCode::Other(4029),
                };
                act.close(ctx, code, reason, CloseWhy::RateLimited);
            }
        })
        .wait(ctx);
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.ended(CloseWhy::Client);
        self.leave();
    }
}

impl Handler<Outbound> for WsSession {
    type Result = ();

    fn handle(&mut self, msg: Outbound, ctx: &mut Self::Context) {
        self.outbox.queued.fetch_sub(1, Ordering::AcqRel);
        match &mut self.phase {
            Phase::Replaying(held) => held.push_back(msg.0),
            Phase::Live => self.deliver(&msg.0),
            Phase::Admitting | Phase::Closing => return,
        }
        self.wrote(ctx);
    }
}

/// The hub could not queue more frames for this session.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SlowConsumer;

impl Handler<SlowConsumer> for WsSession {
    type Result = ();

    fn handle(&mut self, _: SlowConsumer, ctx: &mut Self::Context) {
        self.slow_consumer(ctx);
    }
}

/// The server is shutting down.
#[derive(Message)]
#[rtype(result = "()")]
pub struct GoingAway;

impl Handler<GoingAway> for WsSession {
    type Result = ();

    fn handle(&mut self, _: GoingAway, ctx: &mut Self::Context) {
        self.close(
            ctx,
            CloseCode::Away,
            "server shutting down",
            CloseWhy::Shutdown,
        );
    }
}

impl Handler<Beat> for WsSession {
    type Result = ();

    fn handle(&mut self, beat: Beat, ctx: &mut Self::Context) {
        match beat {
            Beat::Ping if !matches!(self.phase, Phase::Closing) => {
                self.writer.ping();
                self.wrote(ctx);
            }
            Beat::Ping => {}
            Beat::TimedOut => {
                log::debug!("session {} of user {} timed out", self.id, self.user);
                self.close(
                    ctx,
                    CloseCode::Away,
                    "heartbeat timeout",
                    CloseWhy::Heartbeat,
                );
            }
        }
    }
}

impl StreamHandler<Result<Frame, ProtocolError>> for WsSession {
    fn handle(&mut self, item: Result<Frame, ProtocolError>, ctx: &mut Self::Context) {
        let frame = match item {
            Ok(frame) => frame,
            Err(ProtocolError::Overflow) => {
                return self.close(
                    ctx,
                    CloseCode::Size,
                    "frame too large (64 KiB at most)",
                    CloseWhy::Protocol,
                );
            }
            Err(ProtocolError::Io(e)) => {
                log::debug!("session {}: connection error: {e}", self.id);
                self.leave();
                return ctx.stop();
            }
            Err(e) => {
                log::debug!("session {}: protocol error: {e}", self.id);
                return self.close(
                    ctx,
                    CloseCode::Protocol,
                    "protocol error",
                    CloseWhy::Protocol,
                );
            }
        };
        self.clock.heard();
        if matches!(self.phase, Phase::Closing) {
            // Waiting for the peer's answer to our close; nothing else counts.
            if let Frame::Close(_) = frame {
                ctx.stop();
            }
            return;
        }
        match frame {
            Frame::Text(bytes) => match std::str::from_utf8(&bytes) {
                Ok(text) => self.on_text(text, ctx),
                Err(_) => {
                    return self.close(
                        ctx,
                        CloseCode::Invalid,
                        "text frames must be UTF-8",
                        CloseWhy::Protocol,
                    );
                }
            },
            Frame::Ping(payload) => self.writer.pong(&payload),
            Frame::Pong(_) => {}
            Frame::Binary(_) => {
                return self.close(
                    ctx,
                    CloseCode::Unsupported,
                    "binary frames are not supported",
                    CloseWhy::Protocol,
                );
            }
            Frame::Continuation(_) => {
                return self.close(
                    ctx,
                    CloseCode::Unsupported,
                    "fragmented messages are not supported",
                    CloseWhy::Protocol,
                );
            }
            Frame::Close(reason) => {
                // Answer with the peer's code, then go once it is written.
                self.ended(CloseWhy::Client);
                self.leave();
                self.phase = Phase::Closing;
                self.writer.discard_unstarted();
                let code = reason.map_or(CloseCode::Normal, |r| r.code);
                self.writer.close(Some(code.into()));
                self.wrote(ctx);
                if self.writer.is_idle() {
                    ctx.stop();
                } else {
                    ctx.run_later(self.services.limits.close_deadline, |act, ctx| {
                        act.writer.abort();
                        ctx.stop();
                    });
                }
                return;
            }
        }
        self.wrote(ctx);
    }

    /// The peer closed its side of the connection.
    fn finished(&mut self, ctx: &mut Self::Context) {
        self.ended(CloseWhy::Client);
        self.leave();
        ctx.stop();
    }
}

/// Writes the writer's queue as the kernel takes it; ends once it is empty.
struct Flush;

impl ActorFuture<WsSession> for Flush {
    type Output = ();

    fn poll(
        self: Pin<&mut Self>,
        act: &mut WsSession,
        ctx: &mut Context<WsSession>,
        task: &mut TaskContext<'_>,
    ) -> Poll<()> {
        let result = act.writer.poll_flush(task);
        if act.writer.backlog().bytes <= REPLAY_RESUME
            && let Some(waker) = act.replay_waker.take()
        {
            waker.wake();
        }
        match result {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => {
                act.flushing = false;
                Poll::Ready(())
            }
            Poll::Ready(Err(e)) => {
                log::debug!("session {}: write failed: {e}", act.id);
                act.flushing = false;
                act.leave();
                ctx.stop();
                Poll::Ready(())
            }
        }
    }
}

/// Writes the missed alerts, oldest first, pausing while the socket is
/// backed up, then lets the held live frames go.
struct Replay {
    rows: std::vec::IntoIter<AlertRow>,
    truncated_oldest: Option<i64>,
    timestamp: String,
}

impl ActorFuture<WsSession> for Replay {
    type Output = ();

    fn poll(
        self: Pin<&mut Self>,
        act: &mut WsSession,
        ctx: &mut Context<WsSession>,
        task: &mut TaskContext<'_>,
    ) -> Poll<()> {
        let this = self.get_mut();
        loop {
            if !matches!(act.phase, Phase::Replaying(_)) {
                return Poll::Ready(());
            }
            if act.writer.backlog().bytes >= REPLAY_PAUSE {
                act.replay_waker = Some(task.waker().clone());
                act.wrote(ctx);
                return Poll::Pending;
            }
            if act.writer.is_broken() {
                act.wrote(ctx);
                return Poll::Ready(());
            }
            let Some(row) = this.rows.next() else {
                break;
            };
            let alert = AlertView::from(&row);
            act.send(&ServerMessage::BreachAlert {
                message: AlertMessage {
                    alert: &alert,
                    replayed: true,
                },
                timestamp: &this.timestamp,
            });
            act.replayed_up_to = act.replayed_up_to.max(row.id);
        }
        if let Some(oldest) = this.truncated_oldest {
            act.send(&ServerMessage::ReplayTruncated {
                oldest_alert_id: oldest,
            });
        }
        act.go_live(ctx);
        Poll::Ready(())
    }
}
