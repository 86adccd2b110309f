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
mod writer;

pub use reader::{FrameReader, ReadGate, announced_len};
pub use writer::FrameWriter;

use std::rc::Rc;

/// The upgraded TCP connection, shared by a session's reader and writer
/// (both only need `&TcpStream`: readiness plus non-blocking reads/writes).
pub type Socket = Rc<tokio::net::TcpStream>;

use std::time::Duration;

use actix_http::ws::{CloseCode, CloseReason, Frame};
use futures_util::StreamExt;

/// Closes a freshly upgraded socket with `code` and nothing else (a refused
/// login: browsers cannot read the HTTP status of a failed upgrade, so the
/// close code carries the reason). The frame gets `deadline` to leave and
/// the peer as long again to answer; a peer that does not take it has its
/// connection reset.
pub async fn refuse(
    io: tokio::net::TcpStream,
    leftover: &[u8],
    code: CloseCode,
    reason: &str,
    deadline: Duration,
) {
    let io = Rc::new(io);
    let mut writer = FrameWriter::new(io.clone());
    writer.close(Some(CloseReason {
        code,
        description: Some(reason.to_owned()),
    }));
    let flushed =
        tokio::time::timeout(deadline, std::future::poll_fn(|cx| writer.poll_flush(cx))).await;
    if !matches!(flushed, Ok(Ok(()))) {
        writer.abort();
        return;
    }
    // Control frames only: anything larger ends the wait.
    let mut reader = FrameReader::new(io, 125, leftover);
    let _ = tokio::time::timeout(deadline, async {
        while let Some(Ok(frame)) = reader.next().await {
            if let Frame::Close(_) = frame {
                break;
            }
        }
    })
    .await;
}
