//! Closing a freshly upgraded socket with a code and nothing else (a
//! refused login), with the same deadlines as a session's close.

use std::rc::Rc;
use std::time::Duration;

use actix_http::ws::{CloseCode, CloseReason, Frame};
use futures_util::StreamExt;

use super::reader::FrameReader;
use super::writer::FrameWriter;
use crate::protocol::Close;

/// Closes a freshly upgraded socket with `code` and nothing else (a refused
/// login: browsers cannot read the HTTP status of a failed upgrade, so the
/// close code carries the reason). The frame gets `deadline` to leave and
/// the peer as long again to answer; a peer that does not take it has its
/// connection reset.
pub async fn refuse(io: tokio::net::TcpStream, leftover: &[u8], close: Close, deadline: Duration) {
    let io = Rc::new(io);
    let mut writer = FrameWriter::new(io.clone());
    writer.close(Some(CloseReason {
        code: CloseCode::from(close.code()),
        description: Some(close.reason().to_owned()),
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
