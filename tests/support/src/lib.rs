//! What the integration suites share: the real server spawned on port 0
//! (`app`), the real binary as a separate process (`process`), and a
//! hand-written WebSocket peer for hostile tests (`raw_ws`), and a loopback
//! Web Push service that checks and decrypts what it gets (`push_service`). A crate of its
//! own, so every suite uses it as a normal dependency.

pub mod app;
pub mod process;
pub mod push_service;
pub mod raw_ws;

pub use app::*;
