//! One keep-alive connection, and what happens when the server closed it.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{BodyKind, Response, decode_chunked, parse_head};

/// One keep-alive connection; reconnects by itself when the server closed it.
///
/// A server closes a keep-alive connection that stayed idle (alerthub after
/// 5 s), and a request written on it then meets the close instead of an
/// answer. So a request on a reused connection that ends before the first
/// byte of an answer is sent once more on a new connection, as HTTP clients
/// do (hyper's "retry canceled requests"). Every request this tool sends may
/// be repeated: reads, and triggers, which the contract makes idempotent by
/// `breach_id` (a repeat that reached the server answers 200, not pushed).
pub struct HttpConn {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl HttpConn {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            stream: None,
            buf: Vec::with_capacity(4096),
        }
    }

    async fn stream(&mut self) -> io::Result<&mut TcpStream> {
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr).await?;
            s.set_nodelay(true)?;
            self.stream = Some(s);
            self.buf.clear();
        }
        Ok(self.stream.as_mut().expect("just connected"))
    }

    /// Sends one request and reads its response. `auth` is the whole
    /// `Authorization` value.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<&[u8]>,
    ) -> io::Result<Response> {
        let mut req = Vec::with_capacity(256 + body.map_or(0, <[u8]>::len));
        req.extend_from_slice(
            format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.addr).as_bytes(),
        );
        if let Some(auth) = auth {
            req.extend_from_slice(format!("Authorization: {auth}\r\n").as_bytes());
        }
        if let Some(body) = body {
            req.extend_from_slice(
                format!(
                    "Content-Type: application/json\r\nContent-Length: {}\r\n",
                    body.len()
                )
                .as_bytes(),
            );
        }
        req.extend_from_slice(b"\r\n");
        if let Some(body) = body {
            req.extend_from_slice(body);
        }
        let reused = self.stream.is_some();
        let mut result = self.exchange(&req).await;
        if reused && matches!(&result, Err(e) if self.buf.is_empty() && closed(e)) {
            self.stream = None;
            result = self.exchange(&req).await;
        }
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    /// Writes the encoded request `req` and reads one response.
    async fn exchange(&mut self, req: &[u8]) -> io::Result<Response> {
        self.buf.clear();
        let stream = self.stream().await?;
        stream.write_all(req).await?;

        let mut buf = std::mem::take(&mut self.buf);
        let result = read_response(self.stream.as_mut().expect("connected"), &mut buf).await;
        self.buf = buf;
        let (response, close) = result?;
        if close {
            self.stream = None;
        }
        Ok(response)
    }
}

/// The peer closed the connection (or had closed it before we wrote).
fn closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<(Response, bool)> {
    let head = loop {
        if let Some(head) = parse_head(buf)? {
            break head;
        }
        if fill(stream, buf).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before a response",
            ));
        }
    };
    let body = match head.body {
        BodyKind::Length(n) => {
            while buf.len() < head.len + n {
                if fill(stream, buf).await? == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "body cut short",
                    ));
                }
            }
            buf[head.len..head.len + n].to_vec()
        }
        BodyKind::Chunked => loop {
            if let Some((body, _)) = decode_chunked(&buf[head.len..])? {
                break body;
            }
            if fill(stream, buf).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "chunked body cut short",
                ));
            }
        },
        BodyKind::UntilClose => {
            while fill(stream, buf).await? > 0 {}
            buf[head.len..].to_vec()
        }
    };
    let close = head.close || head.body == BodyKind::UntilClose;
    Ok((
        Response {
            status: head.status,
            body,
        },
        close,
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A server that answers one request per connection and then closes
    /// it without saying so (as after its keep-alive timeout): answers how
    /// many connections it accepted.
    async fn one_answer_per_connection(
        listener: tokio::net::TcpListener,
        requests: usize,
    ) -> usize {
        let mut accepted = 0;
        let mut answered = 0;
        while answered < requests {
            let (mut s, _) = listener.accept().await.unwrap();
            accepted += 1;
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                continue;
            }
            s.write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}")
                .await
                .unwrap();
            answered += 1;
            // Closed once the client has read the answer, before its next request.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        accepted
    }

    #[tokio::test]
    async fn a_request_on_a_connection_the_server_closed_is_sent_again() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(one_answer_per_connection(listener, 3));
        let mut conn = HttpConn::new(addr);
        for _ in 0..3 {
            let r = conn
                .request("POST", "/api/v1/alerts", None, Some(b"{}"))
                .await;
            assert_eq!(r.unwrap().status, 201);
            // Past the server's close.
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        assert_eq!(server.await.unwrap(), 3);
    }

    #[tokio::test]
    async fn a_fresh_connection_that_fails_is_not_tried_again() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let mut accepted = 0;
            while let Ok(Ok((s, _))) =
                tokio::time::timeout(Duration::from_millis(500), listener.accept()).await
            {
                accepted += 1;
                drop(s);
            }
            accepted
        });
        let mut conn = HttpConn::new(addr);
        assert!(conn.request("GET", "/health", None, None).await.is_err());
        assert_eq!(server.await.unwrap(), 1);
    }
}
