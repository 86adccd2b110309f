//! Limits on how often a peer may ask: connection attempts per user (the
//! WebSocket handshake, counted in Redis across nodes) and REST calls per
//! user (per node).

pub mod connect;
pub mod rest;
