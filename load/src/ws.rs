//! WebSocket client side of the contract: open an authenticated session
//! (TCP from a chosen loopback source address, upgrade, wait for
//! `connection_established`), and read the server's frames.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

pub type Ws = WebSocketStream<TcpStream>;

/// Small buffers: the tool holds tens of thousands of sockets.
pub fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

/// Source addresses 127.0.0.2 ..= 127.0.0.251, so that many sockets to one
/// server port never run out of ephemeral ports (nor trip on TIME_WAIT).
pub fn source_for(i: usize, target: SocketAddr) -> Option<IpAddr> {
    match target.ip() {
        IpAddr::V4(v4) if v4.is_loopback() => {
            Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (i % 250) as u8)))
        }
        _ => None,
    }
}

#[derive(Debug)]
pub enum ConnectError {
    Tcp(io::Error),
    Handshake(String),
    /// The server closed the session instead of greeting (4003, 4029, ...).
    Closed(u16, String),
    Timeout,
    Unexpected(String),
}

impl ConnectError {
    /// A short label for error tallies.
    pub fn label(&self) -> String {
        match self {
            Self::Tcp(e) => format!("tcp: {}", e.kind()),
            Self::Handshake(e) => format!("upgrade: {}", e.chars().take(60).collect::<String>()),
            Self::Closed(code, reason) => format!("closed {code} {reason}"),
            Self::Timeout => "timeout".into(),
            Self::Unexpected(s) => {
                format!("unexpected: {}", s.chars().take(60).collect::<String>())
            }
        }
    }
}

async fn tcp(addr: SocketAddr, source: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(src) = source {
        // Let connect() pick the port for the full 4-tuple rather than bind().
        let one: libc::c_int = 1;
        // SAFETY: a valid socket fd and a c_int option value of the right size.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_IP,
                libc::IP_BIND_ADDRESS_NO_PORT,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        socket.bind(SocketAddr::new(src, 0))?;
    }
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Opens a session at `path` (`/ws/breach-alerts/<user>/?token=...`) and
/// waits for `connection_established`, all within `timeout`.
pub async fn open(
    addr: SocketAddr,
    source: Option<IpAddr>,
    path: &str,
    timeout: Duration,
) -> Result<Ws, ConnectError> {
    tokio::time::timeout(timeout, open_inner(addr, source, path))
        .await
        .unwrap_or(Err(ConnectError::Timeout))
}

async fn open_inner(
    addr: SocketAddr,
    source: Option<IpAddr>,
    path: &str,
) -> Result<Ws, ConnectError> {
    use futures_util::StreamExt;
    let stream = tcp(addr, source).await.map_err(ConnectError::Tcp)?;
    let url = format!("ws://{addr}{path}");
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config()))
        .await
        .map_err(|e| ConnectError::Handshake(e.to_string()))?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                return match parse_frame(&text) {
                    Ok(ServerFrame::Established) => Ok(ws),
                    _ => Err(ConnectError::Unexpected(text.to_string())),
                };
            }
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = frame
                    .map(|f| (u16::from(f.code), f.reason.to_string()))
                    .unwrap_or((1005, String::new()));
                return Err(ConnectError::Closed(code, reason));
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(other)) => return Err(ConnectError::Unexpected(format!("{other:?}"))),
            Some(Err(e)) => return Err(ConnectError::Unexpected(e.to_string())),
            None => return Err(ConnectError::Unexpected("closed before greeting".into())),
        }
    }
}

/// The session path for `user`, with `since` when reconnecting.
pub fn session_path(user: &str, token: &str, since: Option<i64>) -> String {
    match since {
        Some(since) => format!("/ws/breach-alerts/{user}/?token={token}&since={since}"),
        None => format!("/ws/breach-alerts/{user}/?token={token}"),
    }
}

/// The server frames the tool cares about.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerFrame {
    Established,
    Alert {
        alert_id: i64,
        breach_id: String,
        replayed: bool,
    },
    Pong {
        timestamp: Value,
    },
    ReplayTruncated {
        oldest_alert_id: i64,
    },
    /// `alert_update`: `alert_id` is `null` for `marked_all_read`.
    Update {
        alert_id: Option<i64>,
    },
    Error {
        code: String,
    },
    Other {
        kind: String,
    },
}

#[derive(Deserialize)]
struct RawFrame {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    message: Value,
    #[serde(default)]
    timestamp: Value,
    #[serde(default)]
    code: Value,
    #[serde(default)]
    oldest_alert_id: Value,
}

pub fn parse_frame(text: &str) -> Result<ServerFrame, String> {
    let raw: RawFrame = serde_json::from_str(text).map_err(|e| format!("bad frame: {e}"))?;
    Ok(match raw.kind.as_str() {
        "connection_established" => ServerFrame::Established,
        "breach_alert" => {
            let m = &raw.message;
            ServerFrame::Alert {
                alert_id: m["alert_id"]
                    .as_i64()
                    .ok_or("breach_alert without a numeric alert_id")?,
                breach_id: m["breach_id"]
                    .as_str()
                    .ok_or("breach_alert without a breach_id")?
                    .to_owned(),
                replayed: m["replayed"].as_bool().unwrap_or(false),
            }
        }
        "pong" => ServerFrame::Pong {
            timestamp: raw.timestamp,
        },
        "replay_truncated" => ServerFrame::ReplayTruncated {
            oldest_alert_id: raw.oldest_alert_id.as_i64().unwrap_or(-1),
        },
        "alert_update" => ServerFrame::Update {
            alert_id: raw.message["alert_id"].as_i64(),
        },
        "error" => ServerFrame::Error {
            code: raw.code.as_str().unwrap_or("").to_owned(),
        },
        other => ServerFrame::Other { kind: other.into() },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_parse() {
        assert_eq!(
            parse_frame(
                r#"{"type":"connection_established","message":"Connected to ML-powered breach alert system","user_id":"1","timestamp":"2025-11-25T12:00:00Z"}"#
            ),
            Ok(ServerFrame::Established)
        );
        assert_eq!(
            parse_frame(
                r#"{"type":"breach_alert","message":{"alert_id":123,"breach_id":"L_x-7","title":"t","severity":"HIGH","confidence":0.95,"detected_at":"2025-11-25T12:00:00Z","description":null,"read":false},"timestamp":"2025-11-25T12:00:00Z"}"#
            ),
            Ok(ServerFrame::Alert {
                alert_id: 123,
                breach_id: "L_x-7".into(),
                replayed: false
            })
        );
        assert_eq!(
            parse_frame(
                r#"{"type":"breach_alert","message":{"alert_id":5,"breach_id":"b","replayed":true},"timestamp":"x"}"#
            ),
            Ok(ServerFrame::Alert {
                alert_id: 5,
                breach_id: "b".into(),
                replayed: true
            })
        );
        assert_eq!(
            parse_frame(
                r#"{"type":"pong","timestamp":1234567890,"server_time":"2025-11-25T12:00:00Z"}"#
            ),
            Ok(ServerFrame::Pong {
                timestamp: Value::from(1234567890u64)
            })
        );
        assert_eq!(
            parse_frame(r#"{"type":"replay_truncated","oldest_alert_id":456}"#),
            Ok(ServerFrame::ReplayTruncated {
                oldest_alert_id: 456
            })
        );
        assert_eq!(
            parse_frame(r#"{"type":"error","code":"rate_limited","message":"..."}"#),
            Ok(ServerFrame::Error {
                code: "rate_limited".into()
            })
        );
        assert_eq!(
            parse_frame(
                r#"{"type":"alert_update","message":{"alert_id":123,"update_type":"marked_read","timestamp":"2025-11-25T12:00:00Z"}}"#
            ),
            Ok(ServerFrame::Update {
                alert_id: Some(123)
            })
        );
        assert_eq!(
            parse_frame(
                r#"{"type":"alert_update","message":{"alert_id":null,"update_type":"marked_all_read","timestamp":"2025-11-25T12:00:00Z"}}"#
            ),
            Ok(ServerFrame::Update { alert_id: None })
        );
        assert_eq!(
            parse_frame(r#"{"type":"unread_count","count":5}"#),
            Ok(ServerFrame::Other {
                kind: "unread_count".into()
            })
        );
        assert!(parse_frame("not json").is_err());
        assert!(parse_frame(r#"{"type":"breach_alert","message":{"breach_id":"b"}}"#).is_err());
    }

    #[test]
    fn sources_spread_over_loopback_only() {
        let v4: SocketAddr = "127.0.0.1:8000".parse().unwrap();
        assert_eq!(source_for(0, v4), Some("127.0.0.2".parse().unwrap()));
        assert_eq!(source_for(249, v4), Some("127.0.0.251".parse().unwrap()));
        assert_eq!(source_for(250, v4), Some("127.0.0.2".parse().unwrap()));
        assert_eq!(source_for(3, "[::1]:8000".parse().unwrap()), None);
        assert_eq!(
            session_path("u1", "t", Some(9)),
            "/ws/breach-alerts/u1/?token=t&since=9"
        );
    }
}
