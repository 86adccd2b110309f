//! `WsSession`: one per WebSocket, in the idiom of actix's chat example.
//!
//! A session authenticates before it exists (the upgrade in `http::ws`
//! does that), asks the `Registry` to admit it, greets, replays what the
//! client missed, then goes live. Admission runs while the actor waits
//! (`ctx.wait`): nothing is read or sent before `connection_established`
//! or a 4029 close. The replay runs beside the mailbox while reading is
//! paused; live frames that arrive meanwhile are held and sent after it
//! (`outgoing`), so an alert created during the connect is sent exactly
//! once.
//!
//! Liveness is the `Heartbeat` actor's (it pings and times the session
//! out without a timer per session). Every close frees the session's place
//! under the per-user cap at once, then gives the close frame
//! `close_deadline` to reach the peer (and the peer's answer to come back);
//! a peer that does not take it in time gets its connection reset, so a
//! stuck peer never outlives its session.

mod inbound;
mod lifetime;
mod outgoing;
mod requests;
mod services;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use actix::prelude::*;
use actix_http::ws::{Frame, ProtocolError};
use futures_util::FutureExt;

use self::inbound::{Inbound, Inbox};
use self::lifetime::{Binding, Verdict};
use self::outgoing::{Flush, Outgoing, Replay, Sender};
use self::requests::Request;
pub use self::services::{SessionServices, Starting};
use super::messages::{Beat, Link, Outbound, SessionControl, SessionId, SessionLink};
use crate::auth::Identity;
use crate::models::UserId;
use crate::protocol::{ClientMessage, Close, frames};
use crate::telemetry::metrics::CloseWhy;
use crate::transport::{FrameReader, ReadGate, Socket};

pub struct WsSession {
    /// What the registry, the hub and the heartbeat hold of this session
    /// (its ids, outbox count, clock and address), shared with them. It
    /// holds the session's own address, which keeps nothing alive: every
    /// end of a session stops it (`ctx.stop()`), and stopping drops it.
    link: Arc<Link<Addr<Self>>>,
    user: UserId,
    /// The credential the session lives by (contract §5).
    binding: Binding,
    services: Arc<SessionServices>,
    out: Outgoing,
    /// Paused while a replay runs: client messages wait until it is done.
    reading: ReadGate,
    inbox: Inbox,
    /// Set once the registry admitted the session, until it is told the
    /// session left.
    registered: bool,
    /// Why the session ended, once known (counted once in the metrics).
    ended: Option<CloseWhy>,
}

impl WsSession {
    /// Starts the session on an upgraded socket. `leftover` holds bytes the
    /// client sent right behind its handshake; `starting` (its place among
    /// the sessions starting at once) goes once admitted and replay read.
    pub fn start(
        io: Socket,
        leftover: &[u8],
        identity: Identity,
        since: Option<i64>,
        starting: Starting,
        services: Arc<SessionServices>,
    ) -> Addr<Self> {
        let limits = &services.limits;
        let reader = FrameReader::new(io.clone(), limits.max_frame_bytes, leftover);
        let out = Outgoing::new(io, limits, services.metrics.clone());
        let inbox = Inbox::new(limits);
        Self::create(move |ctx| {
            let link = Arc::new(Link {
                id: services::next_id(),
                session_id: SessionId::random(),
                outbox: Default::default(),
                clock: Default::default(),
                port: ctx.address(),
            });
            let session = Self {
                link,
                binding: Binding::new(&identity),
                user: identity.user,
                out,
                reading: reader.gate(),
                inbox,
                registered: false,
                ended: None,
                services,
            };
            ctx.add_stream(reader);
            session.ask_admission(since, starting, ctx);
            session
        })
    }

    fn send(&mut self, text: &str, ctx: &mut Context<Self>) {
        self.out.text(text);
        self.wrote(ctx);
    }

    /// Call after writing: stops a session whose peer went away, closes one
    /// that fell behind, and flushes whatever the kernel did not take.
    fn wrote(&mut self, ctx: &mut Context<Self>) {
        if self.out.is_broken() {
            self.leave();
            ctx.stop();
            return;
        }
        if self.ended.is_none() && self.out.over_bound(&self.services.limits) {
            return self.slow_consumer(ctx);
        }
        if self.out.start_flush() {
            ctx.spawn(Flush);
        }
    }

    fn slow_consumer(&mut self, ctx: &mut Context<Self>) {
        log::info!(
            "session {} of user {} fell behind; closing with 1013",
            self.link.id,
            self.user
        );
        self.close(ctx, Close::SlowConsumer, CloseWhy::SlowConsumer);
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
        if std::mem::take(&mut self.registered) {
            self.services.depart(&self.user, self.link.id);
        }
    }

    /// Closes the session: the close frame (and the peer's answer) get
    /// `close_deadline`, after which the connection goes — reset if the
    /// frame never left.
    fn close(&mut self, ctx: &mut Context<Self>, close: Close, why: CloseWhy) {
        if self.ended.is_some() {
            return;
        }
        self.ended(why);
        self.leave();
        let peer_stuck = matches!(why, CloseWhy::SlowConsumer | CloseWhy::Heartbeat);
        self.out.close(close, peer_stuck);
        // Read again: the peer's answer to the close ends the session early.
        self.reading.resume();
        self.wrote(ctx);
        ctx.run_later(self.services.limits.close_deadline, |act, ctx| {
            if act.out.backed_up() {
                act.out.abort();
            }
            ctx.stop();
        });
    }

    /// Asks the heartbeat to watch the admitted session, or, after its
    /// expiry moved, to reschedule its checks.
    fn watch(&self) {
        if self.registered {
            let link: SessionLink = self.link.clone();
            self.services.watch(link);
        }
    }

    /// Counts the attempt, then asks to join; nothing else is handled (and
    /// nothing read) until both answered, so no frame can precede
    /// `connection_established` or a 4029 close. (Asked as the actor is
    /// created rather than in `started`: `since` stays in the future
    /// instead of in every idle session.)
    fn ask_admission(&self, since: Option<i64>, starting: Starting, ctx: &mut Context<Self>) {
        let link: SessionLink = self.link.clone();
        services::admit(self.services.clone(), self.user.clone(), link)
            .into_actor(self)
            .map(move |result, act, ctx| match result {
                Ok(()) => act.admitted(since, starting, ctx),
                Err((why, close)) => {
                    act.services.metrics.rejected(why);
                    act.close(ctx, close, CloseWhy::RateLimited);
                }
            })
            .wait(ctx);
    }

    /// Admitted: greet, then replay or go live.
    fn admitted(&mut self, since: Option<i64>, starting: Starting, ctx: &mut Context<Self>) {
        self.registered = true;
        self.binding.arm(&self.link.clock);
        self.watch();
        let greeting = frames::greeting(
            self.user.as_str(),
            self.link.session_id.as_str(),
            self.binding.expires_at_text().as_deref(),
        );
        self.out.text(&greeting);
        if let Some(since) = since {
            self.start_replay(since, starting, ctx);
        }
        self.wrote(ctx);
    }

    /// Fetches what the client missed; `Replay` writes it as the socket
    /// takes it, then the held live frames follow.
    fn start_replay(&mut self, since: i64, starting: Starting, ctx: &mut Context<Self>) {
        self.out.begin_replay();
        self.reading.pause();
        let max = self.services.limits.replay_max;
        requests::replay(&self.services.storage, &self.user, since, max)
            .inspect(move |_| drop(starting)) // read: the next session may start
            .into_actor(self)
            .map(|result, act, ctx| match result {
                Ok(rows) => drop(ctx.spawn(Replay(rows))),
                Err(error) => {
                    act.out.text(&error);
                    act.go_live(ctx);
                }
            })
            .spawn(ctx);
    }

    /// The replay is done: send the live frames held meanwhile.
    fn go_live(&mut self, ctx: &mut Context<Self>) {
        self.reading.resume();
        self.out.end_replay();
        self.wrote(ctx);
    }

    fn on_client_message(&mut self, message: ClientMessage, ctx: &mut Context<Self>) {
        if let ClientMessage::RefreshToken { token } = message {
            let auth = self.services.auth.clone();
            return self.end_for(lifetime::refresh(auth, token, self.user.clone()), ctx);
        }
        match requests::handle(message, &self.user, &self.services.storage) {
            Request::Reply(text) => self.out.text(&text),
            Request::Later(answer) => {
                answer
                    .into_actor(self)
                    .map(|reply, act, ctx| drop(reply.inspect(|text| act.send(text, ctx))))
                    .spawn(ctx);
            }
        }
    }
}

impl Actor for WsSession {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Self::Context) {
        self.ended(CloseWhy::Client);
        self.leave();
    }
}

impl Handler<Outbound> for WsSession {
    type Result = ();

    fn handle(&mut self, msg: Outbound, ctx: &mut Self::Context) {
        self.link.outbox.queued.fetch_sub(1, Ordering::AcqRel);
        if self.ended.is_none() {
            self.out.live(msg.0);
            self.wrote(ctx);
        }
    }
}

impl WsSession {
    /// Carries out a verdict.
    fn end_for(&mut self, verdict: Verdict, ctx: &mut Context<Self>) {
        match verdict {
            // The hub may report a session its own outbox bound closed.
            Verdict::SlowConsumer if self.ended.is_none() => self.slow_consumer(ctx),
            Verdict::Stay | Verdict::SlowConsumer => {}
            Verdict::Ping => {
                self.out.ping();
                self.wrote(ctx);
            }
            Verdict::Rearm => {
                self.link.clock.expire_at(self.binding.expires_at_ms());
                self.watch();
            }
            Verdict::Close(close, why) => self.close(ctx, close, why),
            Verdict::Rebind(identity) => {
                let answer = self.binding.refreshed(&identity, &self.link.clock);
                self.watch();
                self.end_for(Verdict::Answer(answer), ctx);
            }
            Verdict::Answer(text) => self.send(&text, ctx),
            Verdict::Later(next) => {
                let next = next.into_actor(self).map(|verdict, act, ctx| {
                    if act.ended.is_none() {
                        act.end_for(verdict, ctx);
                    }
                });
                ctx.spawn(next);
            }
        }
    }
}

impl Handler<SessionControl> for WsSession {
    type Result = ();

    fn handle(&mut self, msg: SessionControl, ctx: &mut Self::Context) {
        self.end_for(lifetime::on_control(msg, &self.binding), ctx);
    }
}

impl Handler<Beat> for WsSession {
    type Result = ();

    fn handle(&mut self, beat: Beat, ctx: &mut Self::Context) {
        let live = self.ended.is_none();
        let auth = &self.services.auth;
        let verdict = lifetime::on_beat(beat, live, &self.binding, auth, &self.user);
        self.end_for(verdict, ctx);
    }
}

impl StreamHandler<Result<Frame, ProtocolError>> for WsSession {
    fn handle(&mut self, item: Result<Frame, ProtocolError>, ctx: &mut Self::Context) {
        let metrics = self.services.metrics.clone();
        let inbound = self
            .inbox
            .read(item, || metrics.client_messages_dropped.inc());
        if !matches!(inbound, Inbound::Broken) {
            self.link.clock.heard();
        }
        if self.ended.is_some() {
            // Closing: only the peer's answer (or its going away) counts.
            if matches!(inbound, Inbound::PeerClosed(_) | Inbound::Broken) {
                ctx.stop();
            }
            return;
        }
        match inbound {
            Inbound::Message(message) => self.on_client_message(message, ctx),
            Inbound::Refuse(error) => self.out.text(&error),
            Inbound::Ping(payload) => self.out.pong(&payload),
            Inbound::Nothing => {}
            Inbound::Violation(close) => return self.close(ctx, close, CloseWhy::Protocol),
            Inbound::PeerClosed(code) => {
                // Answer with the peer's code, then go once it is written.
                self.close(ctx, Close::Echo(code), CloseWhy::Client);
                if !self.out.backed_up() {
                    ctx.stop();
                }
                return;
            }
            Inbound::Broken => {
                self.leave();
                return ctx.stop();
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

impl Sender for WsSession {
    fn outgoing(&mut self) -> &mut Outgoing {
        &mut self.out
    }

    fn broken(&mut self, ctx: &mut Context<Self>) {
        log::debug!("session {}: write failed", self.link.id);
        self.leave();
        ctx.stop();
    }

    fn wrote(&mut self, ctx: &mut Context<Self>) {
        WsSession::wrote(self, ctx);
    }

    fn replayed(&mut self, ctx: &mut Context<Self>) {
        self.go_live(ctx);
    }
}
