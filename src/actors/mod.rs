//! The actors, one per file. Their relationships:
//!
//! ```text
//!  WsSession ──admit/leave──▶ Registry ──starts, restarts──▶ AlertHub (one per user)
//!      ▲                        ▲  │                              │
//!      └──────── Outbound ──────┼──┼──────────────────────────────┘
//!  HTTP trigger ─▶ AlertWriter ─┼──┴─▶ DbActor (SyncArbiter, all storage)
//!                     └─ Delivery ┘
//! ```
//!
//! A session registers with the `Registry`, which keeps the authoritative
//! list of each user's sessions and starts that user's `AlertHub`; the hub
//! fans events out. The `AlertWriter` groups concurrent triggers into one
//! transaction on the `DbActor` and hands stored alerts to `Delivery`.
//! In multi-node mode `Delivery` also publishes to Redis, and the
//! `RedisSubscriber` hands other nodes' events to the `Registry`; each hub
//! subscribes its user's channel while it lives.

pub mod db;
pub mod heartbeat;
pub mod hub;
pub mod redis_subscriber;
pub mod registry;
pub mod session;
pub mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize};

use actix::{Addr, Message};
use bytestring::ByteString;

use session::WsSession;

/// One serialised server frame, shared by every session that sends it.
#[derive(Debug)]
pub struct Frame {
    pub text: ByteString,
    /// Set on live alerts, so a session that is replaying can skip an alert
    /// it has already sent.
    pub alert_id: Option<i64>,
    pub triggered_at_ms: Option<i64>,
}

/// A frame on its way to a session.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct Outbound(pub Arc<Frame>);

/// How a hub reaches one session, and how far behind that session is.
#[derive(Clone)]
pub struct SessionLink {
    pub id: u64,
    pub addr: Addr<WsSession>,
    pub outbox: Arc<Outbox>,
}

/// Frames handed to a session and not yet written by it. The hub refuses to
/// queue more than the limit: that is the slow-consumer bound.
#[derive(Debug, Default)]
pub struct Outbox {
    pub queued: AtomicUsize,
    /// Set once when the bound is hit, so the session is told only once.
    pub overflowed: AtomicBool,
}
