//! Integration tests: the real server on port 0, real TCP, a real WebSocket
//! client and a real HTTP client. One module per area of the contract.

mod cli;
mod grouped_insert;
mod held_connections;
mod hostile_input;
mod hostile_rest;
mod hostile_transport;
mod introspection;
mod limits;
mod list_filters;
mod metrics;
mod openapi;
mod operators;
mod postgres_outage;
mod push;
mod replay;
mod retention;
mod secrets_in_logs;
mod sessions;
mod supervision;
mod trigger;
mod user_alerts;
mod ws_auth;
mod ws_messages;
