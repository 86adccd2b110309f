//! `FrameReader`: the frames a peer sends, as a `Stream` the session actor
//! consumes, holding at most one frame's limit (plus one read) per socket.

use std::cell::Cell;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker, ready};

use actix_http::ws::{Codec, Frame, ProtocolError};
use bytes::BytesMut;
use futures_util::Stream;
use tokio_util::codec::Decoder;

use super::socket::Socket;

/// Bytes asked of the kernel per read. Small, because most client frames
/// are a few dozen bytes and the buffer is freed whenever it empties.
const READ_CHUNK: usize = 2048;

/// The payload length a frame header announces, once the header is
/// complete (`None` before). actix-http's parser compares the length with
/// the limit only after the whole payload has arrived; this lets the
/// reader refuse an oversized frame as soon as its header is in.
pub fn announced_len(buf: &[u8]) -> Option<u64> {
    let second = *buf.get(1)?;
    match second & 0x7f {
        126 => {
            let ext = buf.get(2..4)?;
            Some(u64::from(u16::from_be_bytes([ext[0], ext[1]])))
        }
        127 => {
            let ext: [u8; 8] = buf.get(2..10)?.try_into().ok()?;
            Some(u64::from_be_bytes(ext))
        }
        n => Some(u64::from(n)),
    }
}

/// Lets the session stop reading for a while (during a replay, so that no
/// answer to a client message comes between `connection_established` and
/// the last replayed alert) without dropping the reader.
#[derive(Clone, Default)]
pub struct ReadGate(Rc<GateState>);

#[derive(Default)]
struct GateState {
    paused: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

impl ReadGate {
    pub fn pause(&self) {
        self.0.paused.set(true);
    }

    pub fn resume(&self) {
        self.0.paused.set(false);
        if let Some(waker) = self.0.waker.take() {
            waker.wake();
        }
    }
}

pub struct FrameReader {
    io: Socket,
    gate: ReadGate,
    codec: Codec,
    max_frame: usize,
    buf: BytesMut,
    eof: bool,
    /// After a protocol error the stream is unusable: what still arrives is
    /// read and dropped (never buffered) until the peer closes, so the
    /// close frame the session sends is not lost to a reset caused by
    /// unread data.
    discarding: bool,
}

impl FrameReader {
    /// `leftover`: bytes the client sent right behind its handshake, which
    /// the HTTP layer already read.
    pub fn new(io: Socket, max_frame: usize, leftover: &[u8]) -> Self {
        Self {
            io,
            gate: ReadGate::default(),
            codec: Codec::new().max_size(max_frame),
            max_frame,
            buf: BytesMut::from(leftover),
            eof: false,
            discarding: false,
        }
    }

    /// The switch that pauses this reader.
    pub fn gate(&self) -> ReadGate {
        self.gate.clone()
    }

    /// Decodes the next whole frame in the buffer, if there is one.
    fn decode(&mut self) -> Result<Option<Frame>, ProtocolError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        if announced_len(&self.buf).is_some_and(|n| n > self.max_frame as u64) {
            return Err(ProtocolError::Overflow);
        }
        let frame = self.codec.decode(&mut self.buf)?;
        if self.buf.is_empty() {
            // An idle socket keeps no buffer at all.
            self.buf = BytesMut::new();
        }
        Ok(frame)
    }
}

impl Stream for FrameReader {
    type Item = Result<Frame, ProtocolError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.discarding {
            return this.poll_discard(cx);
        }
        if this.gate.0.paused.get() {
            this.gate.0.waker.set(Some(cx.waker().clone()));
            return Poll::Pending;
        }
        loop {
            match this.decode() {
                Ok(Some(frame)) => return Poll::Ready(Some(Ok(frame))),
                Ok(None) if this.eof => return Poll::Ready(None),
                Ok(None) => {}
                Err(e) => {
                    this.discarding = true;
                    this.buf = BytesMut::new();
                    return Poll::Ready(Some(Err(e)));
                }
            }
            if let Err(e) = ready!(this.io.poll_read_ready(cx)) {
                return Poll::Ready(Some(Err(ProtocolError::Io(e))));
            }
            // At most one chunk beyond what a frame within the limit needs.
            this.buf.reserve(READ_CHUNK);
            match this.io.try_read_buf(&mut this.buf) {
                Ok(0) => this.eof = true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Some(Err(ProtocolError::Io(e)))),
            }
        }
    }
}

impl FrameReader {
    /// Reads and drops whatever arrives; ends when the peer closes (or the
    /// connection fails). The session's close deadline bounds how long.
    fn poll_discard(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame, ProtocolError>>> {
        let mut sink = [0u8; 4096];
        for _ in 0..16 {
            if ready!(self.io.poll_read_ready(cx)).is_err() {
                return Poll::Ready(None);
            }
            match self.io.try_read(&mut sink) {
                Ok(0) => return Poll::Ready(None),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return Poll::Ready(None),
            }
        }
        // A peer that keeps sending does not get the thread: yield.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_http::ws::{OpCode, Parser};

    #[test]
    fn announced_lengths_match_what_actix_http_encodes() {
        for len in [0usize, 1, 125, 126, 127, 65_535, 65_536, 1 << 20] {
            let mut frame = BytesMut::new();
            Parser::write_message(&mut frame, vec![b'x'; len], OpCode::Text, true, true);
            assert_eq!(announced_len(&frame), Some(len as u64), "length {len}");
        }
    }

    #[test]
    fn a_header_is_read_only_once_complete() {
        assert_eq!(announced_len(&[0x81]), None);
        assert_eq!(announced_len(&[0x81, 0x80 | 126, 0x01]), None);
        assert_eq!(announced_len(&[0x81, 0x80 | 127, 0, 0, 0, 1]), None);
        let bomb = [0x81, 0x80 | 127, 0, 0, 1, 0, 0, 0, 0, 0];
        assert_eq!(announced_len(&bomb), Some(1 << 40));
    }
}
