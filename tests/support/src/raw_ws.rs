//! A WebSocket peer written by hand over a raw TCP socket, for the hostile
//! tests: it writes frame headers byte by byte (announcing any length,
//! invalid UTF-8, …), can shrink its receive buffer and stop reading, and
//! reads the server's frames without a library that would answer pings or
//! reject what it sees.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpSocket, TcpStream};

use crate::app::PATIENCE;

pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// A frame as the server sent it.
#[derive(Debug, PartialEq)]
pub struct ServerFrame {
    pub opcode: u8,
    pub payload: Vec<u8>,
}

impl ServerFrame {
    /// The close code of a close frame.
    pub fn close_code(&self) -> Option<u16> {
        (self.opcode == CLOSE && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }

    pub fn json(&self) -> serde_json::Value {
        assert_eq!(self.opcode, TEXT, "expected a text frame: {self:?}");
        serde_json::from_slice(&self.payload).expect("server sends JSON")
    }
}

/// The header of a masked client frame announcing `len` payload bytes.
pub fn client_header(opcode: u8, fin: bool, len: u64) -> Vec<u8> {
    let mut h = vec![opcode | if fin { 0x80 } else { 0 }];
    if len < 126 {
        h.push(0x80 | len as u8);
    } else if len <= u64::from(u16::MAX) {
        h.push(0x80 | 126);
        h.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        h.push(0x80 | 127);
        h.extend_from_slice(&len.to_be_bytes());
    }
    // An all-zero mask leaves the payload as it is.
    h.extend_from_slice(&[0, 0, 0, 0]);
    h
}

/// A whole masked client frame.
pub fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = client_header(opcode, true, payload.len() as u64);
    f.extend_from_slice(payload);
    f
}

pub struct RawWs<S = TcpStream> {
    pub stream: S,
    buf: Vec<u8>,
}

/// The request line and headers of a WebSocket handshake.
pub fn upgrade_request(path_and_query: &str) -> String {
    format!(
        "GET {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    )
}

impl RawWs {
    /// A reading half and a writing half, to read while writing.
    pub fn split(self) -> (RawWs<tokio::net::tcp::OwnedReadHalf>, OwnedWriteHalf) {
        let (read, write) = self.stream.into_split();
        (
            RawWs {
                stream: read,
                buf: self.buf,
            },
            write,
        )
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("send");
    }

    /// Connects and completes the handshake; `recv_buffer` shrinks the
    /// socket's receive buffer (a peer that will stop reading).
    pub async fn connect(port: u16, path_and_query: &str, recv_buffer: Option<u32>) -> Self {
        Self::connect_with(
            port,
            upgrade_request(path_and_query).as_bytes(),
            recv_buffer,
        )
        .await
    }

    /// Like `connect`, sending `request` as it is (a handshake with frames
    /// right behind it, say).
    pub async fn connect_with(port: u16, request: &[u8], recv_buffer: Option<u32>) -> Self {
        let socket = TcpSocket::new_v4().unwrap();
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        let stream = socket
            .connect(format!("127.0.0.1:{port}").parse().unwrap())
            .await
            .expect("connects");
        let mut ws = Self {
            stream,
            buf: Vec::new(),
        };
        ws.stream.write_all(request).await.unwrap();
        let head = ws.read_head().await;
        assert!(head.starts_with("HTTP/1.1 101"), "no upgrade: {head}");
        ws
    }

    /// Sends `request` and reads the answer to it: status, head and body
    /// (for upgrades that are refused before any upgrade).
    pub async fn refused(port: u16, request: &[u8]) -> (u16, String, serde_json::Value) {
        let mut ws = Self {
            stream: TcpStream::connect(format!("127.0.0.1:{port}"))
                .await
                .unwrap(),
            buf: Vec::new(),
        };
        ws.stream.write_all(request).await.unwrap();
        let head = ws.read_head().await;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        while ws.buf.len() < length {
            ws.fill().await.expect("the whole body");
        }
        let body = serde_json::from_slice(&ws.buf[..length]).unwrap_or(serde_json::Value::Null);
        (status, head, body)
    }
}

impl<S: AsyncRead + Unpin> RawWs<S> {
    /// Reads an HTTP response head (up to the blank line).
    pub async fn read_head(&mut self) -> String {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..end + 4).collect();
                return String::from_utf8_lossy(&head).into_owned();
            }
            self.fill().await.expect("the server answers the handshake");
        }
    }

    async fn fill(&mut self) -> Option<usize> {
        let mut chunk = [0u8; 16 * 1024];
        match tokio::time::timeout(PATIENCE, self.stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => None,
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Some(n)
            }
            Err(_) => panic!("nothing from the server within {PATIENCE:?}"),
        }
    }

    /// The next frame from the server; `None` when the connection ended
    /// (closed or reset) first.
    pub async fn next_frame(&mut self) -> Option<ServerFrame> {
        loop {
            if let Some(frame) = self.parse() {
                return Some(frame);
            }
            self.fill().await?;
        }
    }

    /// The next text frame as JSON, skipping pings.
    pub async fn next_json(&mut self) -> serde_json::Value {
        loop {
            let frame = self.next_frame().await.expect("a frame");
            if frame.opcode != PING {
                return frame.json();
            }
        }
    }

    /// Frames until the close frame; returns the close code (1006 when the
    /// connection ended without one).
    pub async fn close_code(&mut self) -> u16 {
        while let Some(frame) = self.next_frame().await {
            if frame.opcode == CLOSE {
                return frame.close_code().unwrap_or(1005);
            }
        }
        1006
    }

    fn parse(&mut self) -> Option<ServerFrame> {
        let b = &self.buf;
        if b.len() < 2 {
            return None;
        }
        assert_eq!(b[1] & 0x80, 0, "server frames are not masked");
        let (len, start) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
            127 if b.len() >= 10 => (
                u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize,
                10,
            ),
            126 | 127 => return None,
            n => (n as usize, 2),
        };
        if b.len() < start + len {
            return None;
        }
        let opcode = b[0] & 0x0f;
        let payload = b[start..start + len].to_vec();
        self.buf.drain(..start + len);
        Some(ServerFrame { opcode, payload })
    }

    /// Whether the server has closed or reset the connection: a read that
    /// ends, or fails, within `within`.
    pub async fn is_gone_within(&mut self, within: Duration) -> bool {
        let mut chunk = [0u8; 64 * 1024];
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }
}
