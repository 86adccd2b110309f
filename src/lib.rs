//! alerthub: real-time, per-user security alerts over WebSocket — stored,
//! counted and marked read — speaking the wire protocol of the Django
//! Channels system it replaces.
//!
//! The folder tree is the architecture. Dependencies run one way, top to
//! bottom (`tests/architecture.rs` fails on any import cycle):
//!
//! ```text
//! cli, config      the command line and the typed settings
//! startup          builds storage, the actors and the HTTP server from them;
//!                  has each of their threads hand freed memory back
//! http             routes, handlers, the upgrade to WebSocket, the error JSON
//! actors           sessions, hubs, the registry, the heartbeat, the writer,
//!                  storage's actor, the Redis subscriber — and `messages`,
//!                  the only way they reach each other
//! delivery         an event to every session of a user, on every node
//! transport        WebSocket frames over the upgraded socket, bounded
//! auth, rate_limit credentials and who may ask how often
//! redis            multi-node mode: shards, channels, the publisher, the
//!                  ingest stream
//! push             Web Push without I/O: VAPID, the encrypted message, answers
//! storage          SQLite and PostgreSQL through one diesel code path
//! protocol, models the wire formats; alerts and the types that parse input
//! telemetry        metrics and the log
//! ```
//!
//! `docs/architecture.md` follows one alert and one `mark_read` through
//! these, file by file, and says where each behaviour lives.

pub mod actors;
pub mod auth;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod http;
pub mod models;
pub mod protocol;
pub mod push;
pub mod rate_limit;
pub mod redis;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod transport;
