//! A small HTTP/1.1 client: one keep-alive connection, one request at a
//! time (`conn`). The trigger endpoints answer with a `Content-Length`
//! body; chunked and close-delimited bodies are handled too so that any
//! server of the contract can be measured. This file parses responses and
//! holds the one-shot helpers.

mod conn;

pub use conn::HttpConn;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyKind {
    Length(usize),
    Chunked,
    UntilClose,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    /// Bytes of the status line and headers, including the blank line.
    pub len: usize,
    pub body: BodyKind,
    pub close: bool,
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Parses a response head, if `buf` holds all of it.
pub fn parse_head(buf: &[u8]) -> io::Result<Option<Head>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > MAX_HEAD {
            return Err(bad("response head too large"));
        }
        return Ok(None);
    };
    let text = std::str::from_utf8(&buf[..end]).map_err(|_| bad("response head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(bad(format!("not an HTTP/1 response: {status_line:?}")));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line {status_line:?}")))?;
    let mut body = BodyKind::UntilClose;
    let mut close = version == "HTTP/1.0";
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad(format!("bad header line {line:?}")));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            if body != BodyKind::Chunked {
                let n = value
                    .parse()
                    .map_err(|_| bad(format!("bad content-length {value:?}")))?;
                body = BodyKind::Length(n);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if value.to_ascii_lowercase().contains("chunked") {
                body = BodyKind::Chunked;
            }
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    // No body for these, whatever the headers say.
    if status == 204 || status == 304 || (100..200).contains(&status) {
        body = BodyKind::Length(0);
    }
    Ok(Some(Head {
        status,
        len: end + 4,
        body,
        close,
    }))
}

/// Decodes a chunked body at the start of `data`, if all of it is there:
/// the body and the bytes it took (trailers included).
pub fn decode_chunked(data: &[u8]) -> io::Result<Option<(Vec<u8>, usize)>> {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let Some(nl) = data[pos..].windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&data[pos..pos + nl]).map_err(|_| bad("bad chunk size"))?;
        let hex = line.split(';').next().unwrap_or("").trim();
        let size =
            usize::from_str_radix(hex, 16).map_err(|_| bad(format!("bad chunk size {hex:?}")))?;
        pos += nl + 2;
        if size == 0 {
            // Trailers, then an empty line.
            loop {
                let Some(nl) = data[pos..].windows(2).position(|w| w == b"\r\n") else {
                    return Ok(None);
                };
                pos += nl + 2;
                if nl == 0 {
                    return Ok(Some((out, pos)));
                }
            }
        }
        if data.len() < pos + size + 2 {
            return Ok(None);
        }
        out.extend_from_slice(&data[pos..pos + size]);
        if &data[pos + size..pos + size + 2] != b"\r\n" {
            return Err(bad("chunk not followed by CRLF"));
        }
        pos += size + 2;
    }
}

/// One GET on a fresh connection, bounded in time.
pub async fn get(addr: SocketAddr, path: &str, timeout: Duration) -> io::Result<Response> {
    let mut conn = HttpConn::new(addr);
    tokio::time::timeout(timeout, conn.request("GET", path, None, None))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("GET {path} timed out")))?
}

/// `connections` from the server's `/health`, if it answers.
pub async fn health_connections(addr: SocketAddr) -> Option<u64> {
    let r = get(addr, "/health", Duration::from_secs(3)).await.ok()?;
    r.json()?.get("connections")?.as_u64()
}

/// Waits until `/health` counts no connection (or `wait` passed);
/// answers whether it did.
pub async fn wait_for_no_connections(addr: SocketAddr, wait: Duration) -> bool {
    let until = std::time::Instant::now() + wait;
    while std::time::Instant::now() < until {
        if health_connections(addr).await == Some(0) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_parse() {
        let raw = b"HTTP/1.1 201 Created\r\ncontent-length: 12\r\ncontent-type: application/json\r\n\r\n{\"a\":1}";
        let head = parse_head(raw).unwrap().unwrap();
        assert_eq!(head.status, 201);
        assert_eq!(head.body, BodyKind::Length(12));
        assert!(!head.close);
        assert_eq!(&raw[head.len..], b"{\"a\":1}");

        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        let head = parse_head(raw).unwrap().unwrap();
        assert_eq!(head.body, BodyKind::Chunked);
        assert!(head.close);

        let raw = b"HTTP/1.0 204 No Content\r\nContent-Length: 5\r\n\r\n";
        let head = parse_head(raw).unwrap().unwrap();
        assert_eq!(head.body, BodyKind::Length(0));
        assert!(head.close);
    }

    #[test]
    fn incomplete_and_bad_heads() {
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Le").unwrap(), None);
        assert!(parse_head(b"SSH-2.0-x\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 abc OK\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n").is_err());
    }

    #[test]
    fn chunked_bodies_decode() {
        let data = b"4\r\nWiki\r\n6;ext=1\r\npedia \r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        let (body, used) = decode_chunked(data).unwrap().unwrap();
        assert_eq!(body, b"Wikipedia ");
        assert_eq!(&data[used..], b"NEXT");
        assert_eq!(decode_chunked(b"4\r\nWi").unwrap(), None);
        assert_eq!(decode_chunked(b"0\r\n").unwrap(), None);
        assert_eq!(decode_chunked(b"0\r\n\r\n").unwrap(), Some((vec![], 5)));
        assert!(decode_chunked(b"zz\r\n").is_err());
        assert!(decode_chunked(b"2\r\nabX\r\n").is_err());
    }
}
