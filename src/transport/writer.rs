//! `FrameWriter`: frames to a peer, written with one non-blocking syscall
//! each; a queue exists only while the kernel will not take more.
//!
//! The queue is what a peer that stops reading costs: the session reads
//! `backlog()` to close a slow consumer, `discard_unstarted()` drops what
//! the peer never began to receive (a close frame must not wait behind
//! it), and the socket's send buffer is capped (`limit_kernel_buffer`) so
//! the kernel cannot pin megabytes for one stuck peer either.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::task::{Context, Poll, ready};

use actix_http::ws::{CloseReason, OpCode, Parser};
use bytes::{Bytes, BytesMut};

use super::socket::Socket;

/// Frames handed to the kernel in one `writev` when flushing a queue.
const WRITEV_FRAMES: usize = 64;

thread_local! {
    /// Where frames are encoded on their way to the socket: one per thread,
    /// so a frame that the kernel takes at once costs no allocation.
    static SCRATCH: RefCell<BytesMut> = RefCell::new(BytesMut::with_capacity(8 * 1024));
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backlog {
    pub frames: usize,
    pub bytes: usize,
}

pub struct FrameWriter {
    io: Socket,
    /// Encoded frames the kernel has not taken yet, oldest first; the first
    /// may be partly written (`head_started`).
    queue: VecDeque<Bytes>,
    head_started: bool,
    queued_bytes: usize,
    broken: bool,
}

impl FrameWriter {
    pub fn new(io: Socket) -> Self {
        Self {
            io,
            queue: VecDeque::new(),
            head_started: false,
            queued_bytes: 0,
            broken: false,
        }
    }

    /// Caps the socket's kernel send buffer (the kernel doubles the value
    /// for its own bookkeeping): what a peer that never reads can pin in
    /// kernel memory, besides our queue.
    pub fn limit_kernel_buffer(&self, bytes: usize) -> io::Result<()> {
        socket2::SockRef::from(&*self.io).set_send_buffer_size(bytes)
    }

    pub fn text(&mut self, payload: &[u8]) {
        self.push(|buf| Parser::write_message(buf, payload, OpCode::Text, true, false));
    }

    pub fn ping(&mut self) {
        self.push(|buf| Parser::write_message(buf, b"", OpCode::Ping, true, false));
    }

    pub fn pong(&mut self, payload: &[u8]) {
        self.push(|buf| Parser::write_message(buf, payload, OpCode::Pong, true, false));
    }

    pub fn close(&mut self, reason: Option<CloseReason>) {
        self.push(|buf| Parser::write_close(buf, reason, false));
    }

    /// What is waiting for the kernel.
    pub fn backlog(&self) -> Backlog {
        Backlog {
            frames: self.queue.len(),
            bytes: self.queued_bytes,
        }
    }

    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// The socket failed (reset, broken pipe): nothing more can be sent.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Drops every queued frame the peer has not begun to receive; a frame
    /// already partly written stays, or the stream would be corrupt.
    pub fn discard_unstarted(&mut self) {
        let keep = usize::from(self.head_started);
        while self.queue.len() > keep {
            if let Some(frame) = self.queue.pop_back() {
                self.queued_bytes -= frame.len();
            }
        }
    }

    /// Makes the next close of the socket a reset: used when a peer would
    /// not take even the close frame in time, so the kernel frees the
    /// connection at once instead of retrying to send to it.
    pub fn abort(&mut self) {
        let _ = self.io.set_zero_linger();
        self.queue.clear();
        self.queued_bytes = 0;
        self.broken = true;
    }

    fn push(&mut self, encode: impl FnOnce(&mut BytesMut)) {
        if self.broken {
            return;
        }
        SCRATCH.with(|scratch| {
            let mut buf = scratch.borrow_mut();
            buf.clear();
            encode(&mut buf);
            let written = if self.queue.is_empty() {
                match self.io.try_write(&buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                    Err(_) => {
                        self.broken = true;
                        return;
                    }
                }
            } else {
                0
            };
            if written < buf.len() {
                if self.queue.is_empty() {
                    self.head_started = written > 0;
                }
                let rest = Bytes::copy_from_slice(&buf[written..]);
                self.queued_bytes += rest.len();
                self.queue.push_back(rest);
            }
        });
    }

    /// Writes queued frames until the queue is empty or the kernel is full.
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.queue.is_empty() {
            if self.broken {
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            }
            ready!(self.io.poll_write_ready(cx))?;
            let slices: Vec<IoSlice<'_>> = self
                .queue
                .iter()
                .take(WRITEV_FRAMES)
                .map(|f| IoSlice::new(f))
                .collect();
            match self.io.try_write_vectored(&slices) {
                Ok(n) => self.consume(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    self.broken = true;
                    return Poll::Ready(Err(e));
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    fn consume(&mut self, mut n: usize) {
        self.queued_bytes -= n;
        while n > 0 {
            let Some(head) = self.queue.front_mut() else {
                return;
            };
            if n >= head.len() {
                n -= head.len();
                self.queue.pop_front();
                self.head_started = false;
            } else {
                let _ = head.split_to(n);
                self.head_started = true;
                n = 0;
            }
        }
    }
}
