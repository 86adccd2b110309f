//! alerthub: real-time, per-user security alerts over WebSocket — stored,
//! counted and marked read — speaking the wire protocol of the Django
//! Channels system it replaces.
//!
//! The folder tree is the architecture: `actors/` (sessions, hubs, the
//! registry, storage and the write path), `http/` (routes and the error
//! mapping), `models/` (schema, rows and the domain types that parse input).

pub mod actors;
pub mod auth;
pub mod auth_refusal;
pub mod cli;
pub mod config;
pub mod connect_limit;
pub mod delivery;
pub mod http;
pub mod jwt_keys;
pub mod logging;
pub mod metrics;
pub mod models;
pub mod protocol;
pub mod read_state;
pub mod redis;
pub mod rest_limit;
pub mod secrets;
pub mod startup;
pub mod storage;
pub mod token_lookup;
pub mod tokens;
pub mod transport;
