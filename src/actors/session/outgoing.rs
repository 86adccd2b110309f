//! What a session sends, and when: frames go straight to the socket, except
//! while a replay runs (live frames are held, then sent after it, minus any
//! alert the replay already sent) or while the peer is not reading (the
//! writer queues). This module also holds the two rules that depend on what
//! is waiting: the outbound bound (close with 1013 beyond it) and the
//! replay's pacing (it pauses while the socket is backed up, so a replay of
//! large alerts to a slow link is never taken for a slow consumer).

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use actix::{Actor, ActorFuture};

use crate::config::Limits;
use crate::models::time::now_ms;
use crate::models::{AlertRow, AlertView};
use crate::protocol::{Close, Frame, frames};
use crate::telemetry::metrics::Metrics;
use crate::transport::{FrameWriter, Socket};

/// A replay stops writing while this much waits for the kernel, and goes
/// on once the queue is below `REPLAY_RESUME`.
const REPLAY_PAUSE: usize = 128 * 1024;
const REPLAY_RESUME: usize = 32 * 1024;

pub struct Outgoing {
    writer: FrameWriter,
    /// Counts text frames sent, and times live alerts from their trigger.
    metrics: Arc<Metrics>,
    /// `Some` while a replay runs: the live frames that arrived meanwhile.
    #[expect(
        clippy::box_collection,
        reason = "a replay is short; boxed, the 32 bytes of the queue are not kept by every idle session"
    )]
    held: Option<Box<VecDeque<Arc<Frame>>>>,
    /// Live alerts with an id up to this were already sent by the replay:
    /// skip them. (Not `since` itself: a client whose `since` is ahead of
    /// the server's ids, e.g. after a database restore, must still get new
    /// alerts.)
    replayed_up_to: i64,
    /// The replay, paused until the writer's queue drains.
    replay_waker: Option<Waker>,
    /// A `Flush` future is running.
    flushing: bool,
}

/// The missed alerts of a replay, written as the socket takes them.
pub struct ReplayRows {
    rows: std::vec::IntoIter<AlertRow>,
    truncated_oldest: Option<i64>,
}

impl ReplayRows {
    pub fn new(rows: Vec<AlertRow>, truncated: bool) -> Self {
        let truncated_oldest = rows.first().map(|r| r.id).filter(|_| truncated);
        Self {
            rows: rows.into_iter(),
            truncated_oldest,
        }
    }
}

impl Outgoing {
    pub fn new(io: Socket, limits: &Limits, metrics: Arc<Metrics>) -> Self {
        let writer = FrameWriter::new(io);
        if let Err(e) = writer.limit_kernel_buffer(limits.socket_send_buffer) {
            log::debug!("cannot cap a socket's send buffer: {e}");
        }
        Self {
            writer,
            metrics,
            held: None,
            replayed_up_to: 0,
            replay_waker: None,
            flushing: false,
        }
    }

    pub fn text(&mut self, text: &str) {
        self.writer.text(text.as_bytes());
        self.metrics.messages_sent.inc();
    }

    pub fn ping(&mut self) {
        self.writer.ping();
    }

    pub fn pong(&mut self, payload: &[u8]) {
        self.writer.pong(payload);
    }

    /// A live frame: held during a replay, else sent unless the replay
    /// already sent it.
    pub fn live(&mut self, frame: Arc<Frame>) {
        match &mut self.held {
            Some(held) => held.push_back(frame),
            None => self.send_live(&frame),
        }
    }

    fn send_live(&mut self, frame: &Frame) {
        if frame.alert_id.is_some_and(|id| id <= self.replayed_up_to) {
            return;
        }
        self.text(&frame.text);
        if let Some(t) = frame.triggered_at_ms {
            let seconds = (now_ms() - t).max(0) as f64 / 1000.0;
            self.metrics.trigger_to_send.observe(seconds);
        }
    }

    /// Starts holding live frames.
    pub fn begin_replay(&mut self) {
        self.held = Some(Box::default());
    }

    pub fn replaying(&self) -> bool {
        self.held.is_some()
    }

    /// The replay is over: sends the held frames.
    pub fn end_replay(&mut self) {
        for frame in self.held.take().map(|held| *held).unwrap_or_default() {
            self.send_live(&frame);
        }
    }

    /// Writes replayed alerts until they are done (`Ready`) or the
    /// socket is backed up (`Pending`, woken by `poll_flush`).
    pub fn poll_replay(&mut self, rows: &mut ReplayRows, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if self.writer.is_broken() {
                return Poll::Ready(());
            }
            if self.writer.backlog().bytes >= REPLAY_PAUSE {
                self.replay_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            let Some(row) = rows.rows.next() else {
                break;
            };
            self.text(&frames::alert_frame(&AlertView::from(&row), true));
            self.replayed_up_to = self.replayed_up_to.max(row.id);
        }
        if let Some(oldest) = rows.truncated_oldest.take() {
            self.text(&frames::replay_truncated(oldest));
        }
        Poll::Ready(())
    }

    /// Writes what the kernel did not take yet; wakes a paused replay once
    /// the queue is short again.
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = self.writer.poll_flush(cx);
        if self.writer.backlog().bytes <= REPLAY_RESUME
            && let Some(waker) = self.replay_waker.take()
        {
            waker.wake();
        }
        result
    }

    /// Whether a `Flush` must be started now (frames wait and none runs);
    /// counts it as started.
    pub fn start_flush(&mut self) -> bool {
        let start = self.backed_up() && !self.flushing;
        self.flushing |= start;
        start
    }

    /// Whether frames wait for the kernel.
    pub fn backed_up(&self) -> bool {
        !self.writer.is_idle()
    }

    pub fn is_broken(&self) -> bool {
        self.writer.is_broken()
    }

    /// Frames held or waiting for the kernel are over the bound
    /// (`outbound_queue` frames, `outbound_bytes` bytes).
    pub fn over_bound(&self, limits: &Limits) -> bool {
        let held = self.held.as_ref().map_or(0, |held| held.len());
        let backlog = self.writer.backlog();
        held + backlog.frames > limits.outbound_queue || backlog.bytes > limits.outbound_bytes
    }

    /// Queues a close frame. A peer that is not reading (slow, silent)
    /// loses what it never began to receive, so the close frame is next;
    /// anyone else gets the frames already queued first. Ends a replay.
    pub fn close(&mut self, close: Close, peer_stuck: bool) {
        self.held = None;
        if let Some(waker) = self.replay_waker.take() {
            waker.wake();
        }
        if peer_stuck {
            self.writer.discard_unstarted();
        }
        self.writer.close(Some(actix_http::ws::CloseReason {
            code: actix_http::ws::CloseCode::from(close.code()),
            description: Some(close.reason().to_owned()).filter(|r| !r.is_empty()),
        }));
    }

    /// Makes the connection end in a reset (the close frame never left).
    pub fn abort(&mut self) {
        self.writer.abort();
    }
}

/// An actor that sends through an `Outgoing`: what `Flush` and `Replay`
/// need of it.
pub trait Sender: Actor<Context = actix::Context<Self>> {
    fn outgoing(&mut self) -> &mut Outgoing;
    /// The socket failed.
    fn broken(&mut self, ctx: &mut actix::Context<Self>);
    /// Frames were written: flush them, notice a closed socket.
    fn wrote(&mut self, ctx: &mut actix::Context<Self>);
    /// The replay is done: go live.
    fn replayed(&mut self, ctx: &mut actix::Context<Self>);
}

/// Writes the queue as the kernel takes it; ends once it is empty.
pub struct Flush;

impl<A: Sender> ActorFuture<A> for Flush {
    type Output = ();

    fn poll(
        self: Pin<&mut Self>,
        act: &mut A,
        ctx: &mut actix::Context<A>,
        task: &mut Context<'_>,
    ) -> Poll<()> {
        let out = act.outgoing();
        let result = std::task::ready!(out.poll_flush(task));
        out.flushing = false;
        if result.is_err() {
            act.broken(ctx);
        }
        Poll::Ready(())
    }
}

/// Writes the missed alerts, pausing while the socket is backed up, then
/// lets the held live frames go.
pub struct Replay(pub ReplayRows);

impl<A: Sender> ActorFuture<A> for Replay {
    type Output = ();

    fn poll(
        self: Pin<&mut Self>,
        act: &mut A,
        ctx: &mut actix::Context<A>,
        task: &mut Context<'_>,
    ) -> Poll<()> {
        if !act.outgoing().replaying() {
            return Poll::Ready(());
        }
        let polled = act.outgoing().poll_replay(&mut self.get_mut().0, task);
        act.wrote(ctx);
        std::task::ready!(polled);
        if act.outgoing().replaying() {
            act.replayed(ctx);
        }
        Poll::Ready(())
    }
}
