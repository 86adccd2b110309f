//! `SessionThreads`: the arbiters WebSocket sessions run on, apart from the
//! HTTP workers.
//!
//! An HTTP worker is one thread running every task it holds in turn, so
//! with sessions on the workers a trigger's request waited behind every
//! session task queued there. The upgrade now hands the socket over, and
//! the session lives on one of these arbiters (round robin): a worker
//! parses requests and checks credentials, and a session's frames,
//! replays and closes never share a thread with answering a trigger.
//!
//! Measured (issue 15, docs/BENCHMARKS.md "The reconnect storm,
//! profiled"): this alone did not shorten the triggers' stall during a
//! 10,000-socket reconnect storm, nor did it cost anything measurable
//! (fan-out, handshakes, idle CPU in the same window).
//!
//! What did: a bound on the sessions *starting* at once. In a storm every
//! reconnecting socket became a task at once — on the HTTP workers (the
//! handshake), here (admission, greeting) and on the database threads
//! (the replay) — and a trigger's request, or an alert for a session
//! already open, waited behind thousands of them in each thread's queue.
//! Now a handshake takes a place (`admit`) before its credential is
//! checked and gives it back once the session was admitted and its replay
//! read; the others wait their turn without being polled, so each queue
//! holds at most `Limits::starting_sessions` of them.

use std::net::TcpStream;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix::Arbiter;
use tokio::sync::Semaphore;

use crate::actors::session::{SessionServices, Starting, WsSession};
use crate::auth::Identity;

pub struct SessionThreads {
    arbiters: Vec<Arbiter>,
    next: AtomicUsize,
    /// Places for sessions starting at once.
    starting: Arc<Semaphore>,
}

/// What a session needs to start on its arbiter.
pub struct Handover {
    pub io: TcpStream,
    /// Bytes the client sent right behind its handshake.
    pub leftover: Vec<u8>,
    pub identity: Identity,
    pub since: Option<i64>,
    pub starting: Starting,
    pub services: Arc<SessionServices>,
}

impl SessionThreads {
    /// `count` arbiters (at least one), each a thread of its own; at most
    /// `starting` sessions (at least one) start at once.
    pub fn new(count: usize, starting: usize) -> Self {
        Self {
            arbiters: (0..count.max(1)).map(|_| Arbiter::new()).collect(),
            next: AtomicUsize::new(0),
            starting: Arc::new(Semaphore::new(starting.max(1))),
        }
    }

    /// Runs `task` once on each session thread, e.g. to start a periodic
    /// job that belongs to the thread rather than to a session.
    pub fn on_each_thread(&self, task: fn()) {
        for arbiter in &self.arbiters {
            arbiter.spawn_fn(task);
        }
    }

    /// A place to start a session, in arrival order; `None` when none came
    /// free within `wait`.
    pub async fn admit(&self, wait: Duration) -> Option<Starting> {
        let place = self.starting.clone().acquire_owned();
        tokio::time::timeout(wait, place).await.ok()?.ok()
    }

    /// Starts the session on the next arbiter. `false` when the socket could
    /// not be handed over (the arbiter is gone: the server is stopping), or
    /// not be taken over there; the connection is then closed.
    pub fn start(&self, session: Handover) -> bool {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.arbiters.len();
        self.arbiters[i].spawn_fn(move || {
            let Handover {
                io,
                leftover,
                identity,
                since,
                starting,
                services,
            } = session;
            match tokio::net::TcpStream::from_std(io) {
                Ok(io) => {
                    WsSession::start(Rc::new(io), &leftover, identity, since, starting, services);
                }
                Err(e) => log::warn!("a WebSocket could not join its session thread: {e}"),
            }
        })
    }
}

impl Drop for SessionThreads {
    fn drop(&mut self) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
    }
}
