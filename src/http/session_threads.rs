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
//! profiled"): this did not shorten the triggers' stall during a
//! 10,000-socket reconnect storm; that storm saturates both cores, and a
//! trigger waits for CPU wherever it runs. Nor did it cost anything
//! measurable (fan-out, handshakes, idle CPU in the same window).

use std::net::TcpStream;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix::Arbiter;

use crate::actors::session::{SessionServices, WsSession};
use crate::auth::Identity;

pub struct SessionThreads {
    arbiters: Vec<Arbiter>,
    next: AtomicUsize,
}

/// What a session needs to start on its arbiter.
pub struct Handover {
    pub io: TcpStream,
    /// Bytes the client sent right behind its handshake.
    pub leftover: Vec<u8>,
    pub identity: Identity,
    pub since: Option<i64>,
    pub services: Arc<SessionServices>,
}

impl SessionThreads {
    /// `count` arbiters (at least one), each a thread of its own.
    pub fn new(count: usize) -> Self {
        Self {
            arbiters: (0..count.max(1)).map(|_| Arbiter::new()).collect(),
            next: AtomicUsize::new(0),
        }
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
                services,
            } = session;
            match tokio::net::TcpStream::from_std(io) {
                Ok(io) => {
                    WsSession::start(Rc::new(io), &leftover, identity, since, services);
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
