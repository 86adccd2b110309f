//! The actors, one per file, and the messages between them (`messages`).
//!
//! ```text
//!            Heartbeat ──Ping/TimedOut──┐
//!                                      ▼
//!  http::ws ─starts─▶ WsSession ──Admit/Depart──▶ Registry ──HubFactory──▶ AlertHub (one per user)
//!                       ▲   ▲                        ▲  │ Deliver               │
//!                       │   └──── Outbound/SessionControl ──────────────────────┘
//!                       │ ReplaySince, MarkRead …   │
//!                       ▼                           │ Deliver (Delivery)
//!  http::trigger ─▶ AlertWriter (stores groups itself)  DbActor (SyncArbiter, all other storage)
//!                                                   ▲
//!  RedisSubscriber ──Deliver, CatchUp──▶ Registry   │ MissedBy (catch-up: one call per 500 hubs)
//!         ▲ Subscribe / Unsubscribe ──────┘         │
//!                                                   │
//!  PushActor (own arbiter) ──ClaimDuePushes, RecordPushOutcomes──┘ ──▶ push services (Web Push)
//! ```
//!
//! A session registers with the `Registry`, which keeps the authoritative
//! list of each user's sessions and starts that user's `AlertHub`; the hub
//! fans events out. The `AlertWriter` groups concurrent triggers into one
//! transaction, which it runs on its own thread; new alerts and read-state changes go to
//! `delivery::Delivery`, which hands them to the `Registry` (and, in
//! multi-node mode, to the user's Redis shard, from where other nodes'
//! `RedisSubscriber`s — one per shard — hand them to their registries). The
//! `Heartbeat` pings and reaps every session. `Retention` (with
//! `ALERTHUB_RETENTION_DAYS`) deletes old read alerts through the `DbActor`,
//! in small steps. The `PushActor` claims alerts still unread after the Web
//! Push delay and sends them to the user's browsers. No actor names another: each gets `Recipient`s at start
//! (`startup` wires them), or, for sessions and hubs, an address behind a
//! trait (`messages::SessionLink`, `messages::HubPort`).

pub mod db;
pub mod heartbeat;
pub mod hub;
pub mod messages;
pub mod push;
pub mod redis_subscriber;
pub mod registry;
pub mod retention;
pub mod session;
pub mod writer;
