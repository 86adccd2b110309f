//! The wire formats of the contract, in one place: what a client sends
//! (`client`), the JSON of what the server sends (`server`), every frame and
//! close the server sends, built once (`frames`), and the per-user events
//! nodes exchange (`event`).

pub mod client;
pub mod event;
pub mod frames;
pub mod server;

pub use client::{ClientMessage, ErrorCode, FrameError, SecretText};
pub use event::{ControlEvent, UserEvent};
pub use frames::{Close, Frame};
pub use server::{AlertMessage, GREETING, ServerMessage, UpdateMessage, UpdateType};
