//! The upgraded TCP connection as a session holds it.

use std::rc::Rc;

/// Shared by a session's reader and writer: both only need `&TcpStream`
/// (readiness plus non-blocking reads and writes).
pub type Socket = Rc<tokio::net::TcpStream>;
