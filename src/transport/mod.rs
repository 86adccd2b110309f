//! The WebSocket transport under a session: the socket of an upgraded
//! connection, read one frame at a time and written one frame per syscall.
//!
//! Why not actix-web-actors' `WebsocketContext`: its read loop pulls every
//! chunk the socket has into one buffer before decoding, and actix-http's
//! frame parser checks the size limit only once a whole frame has arrived,
//! so a header announcing 2^40 bytes made the server buffer whatever the
//! peer streamed. And the HTTP/1 dispatcher under it keeps an 8 KiB read
//! and an 8 KiB write buffer for the life of every socket. Here the
//! connection leaves the dispatcher at the upgrade (`http::ws`), and:
//!
//! - `FrameReader` reads into a buffer that exists only while a frame is
//!   incomplete, looks at each header's announced length before it buffers
//!   any payload, and refuses one over the limit at once (1009);
//! - `FrameWriter` writes each frame straight to the socket and keeps a
//!   queue only while the peer is not reading; the queue is counted in
//!   frames and bytes so the session can tell a slow consumer, drop what
//!   was never started, and give a close frame a deadline.
//!
//! Framing itself (headers, masking, close payloads) is actix-http's
//! `ws::Codec` and `ws::Parser`.

mod reader;
mod refuse;
mod socket;
mod writer;

pub use reader::{FrameReader, ReadGate, announced_len};
pub use refuse::refuse;
pub use socket::Socket;
pub use writer::FrameWriter;
