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
use tokio::io::Interest;
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
            match read_draining(&this.io, &mut this.buf) {
                Ok(0) => this.eof = true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Some(Err(ProtocolError::Io(e)))),
            }
        }
    }
}

/// One read into `buf`'s spare capacity. A read that did not fill it
/// drained the socket, so its readiness is cleared at once, as tokio's own
/// `poll_read` does on epoll: otherwise the next poll would ask the kernel
/// again only to hear `EAGAIN`, one wasted syscall per client frame (half
/// of an idle node's reads: every pong). `try_io` takes the readiness
/// event before the read and clears only that one, so data that arrives
/// meanwhile raises a new event and is not missed.
fn read_draining(io: &tokio::net::TcpStream, buf: &mut BytesMut) -> io::Result<usize> {
    let offered = buf.capacity() - buf.len();
    let mut got = None;
    let outcome = io.try_io(Interest::READABLE, || {
        let n = io.try_read_buf(buf)?;
        got = Some(n);
        if 0 < n && n < offered {
            // Drained: tell `try_io` to clear the readiness it saw.
            Err(io::ErrorKind::WouldBlock.into())
        } else {
            Ok(n)
        }
    });
    match (outcome, got) {
        (Err(e), Some(n)) if e.kind() == io::ErrorKind::WouldBlock => Ok(n),
        (outcome, _) => outcome,
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

    /// Both ends of a real loopback connection.
    async fn pair() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        (client.unwrap(), accepted.unwrap().0)
    }

    #[tokio::test]
    async fn a_drained_socket_waits_for_new_data_and_a_full_read_does_not() {
        use std::time::Duration;
        use tokio::io::AsyncWriteExt;
        let (mut client, server) = pair().await;
        let soon = Duration::from_millis(100);

        client.write_all(b"ping").await.unwrap();
        server.readable().await.unwrap();
        let mut buf = BytesMut::with_capacity(64);
        assert_eq!(read_draining(&server, &mut buf).unwrap(), 4);
        // Drained: no longer ready, without another read to find out ...
        let ready = tokio::time::timeout(soon, server.readable()).await;
        assert!(ready.is_err(), "still ready after a short read");
        // ... and ready again when more arrives.
        client.write_all(b"pong").await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), server.readable())
            .await
            .expect("new data wakes the reader")
            .unwrap();
        assert_eq!(read_draining(&server, &mut buf).unwrap(), 4);
        assert_eq!(&buf[..], b"pingpong");

        // A read that fills the buffer may have left data behind: still ready.
        client.write_all(&[7u8; 100]).await.unwrap();
        server.readable().await.unwrap();
        let mut small = BytesMut::with_capacity(16);
        let offered = small.capacity();
        assert_eq!(read_draining(&server, &mut small).unwrap(), offered);
        tokio::time::timeout(soon, server.readable())
            .await
            .expect("ready: the rest waits")
            .unwrap();
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
