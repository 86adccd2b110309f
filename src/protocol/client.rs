//! What a client may send over the WebSocket (contract §1, §5), parsed
//! into `ClientMessage`; what cannot be parsed is a `FrameError` carrying
//! the contract's error code.

use serde::Serialize;
use serde_json::Value;

/// A client frame that parsed into something the server acts on.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    Ping {
        timestamp: Value,
    },
    GetUnreadCount,
    SubscribeToUpdates,
    MarkRead {
        alert_id: i64,
    },
    MarkAllRead,
    /// Rebind the session to another credential of the same user (§5).
    RefreshToken {
        token: SecretText,
    },
}

/// A credential a client sent in a message: never printed, so a `Debug` of
/// a message (in a log line or a panic) cannot leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText(String);

impl SecretText {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(***)")
    }
}

/// The `code` of an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidJson,
    InvalidMessage,
    UnknownType,
    NotFound,
    RateLimited,
    Unavailable,
    /// A `refresh_token` whose token is not valid for this session's user.
    InvalidToken,
}

/// Why a client frame was refused; answered with an `error` frame.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct FrameError {
    pub code: ErrorCode,
    pub message: String,
}

impl FrameError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl ClientMessage {
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| FrameError::new(ErrorCode::InvalidJson, format!("not valid JSON: {e}")))?;
        let Value::Object(obj) = value else {
            return Err(FrameError::new(
                ErrorCode::InvalidMessage,
                "a message must be a JSON object",
            ));
        };
        let kind = match obj.get("type") {
            Some(Value::String(kind)) => kind.as_str(),
            Some(_) => {
                return Err(FrameError::new(
                    ErrorCode::InvalidMessage,
                    "\"type\" must be a string",
                ));
            }
            None => {
                return Err(FrameError::new(
                    ErrorCode::InvalidMessage,
                    "a message needs a \"type\"",
                ));
            }
        };
        match kind {
            "ping" => Ok(Self::Ping {
                timestamp: obj.get("timestamp").cloned().unwrap_or(Value::Null),
            }),
            "get_unread_count" => Ok(Self::GetUnreadCount),
            "subscribe_to_updates" => Ok(Self::SubscribeToUpdates),
            "mark_all_read" => Ok(Self::MarkAllRead),
            "mark_read" => match obj.get("alert_id").and_then(Value::as_i64) {
                Some(alert_id) => Ok(Self::MarkRead { alert_id }),
                None => Err(FrameError::new(
                    ErrorCode::InvalidMessage,
                    "mark_read needs an integer \"alert_id\"",
                )),
            },
            "refresh_token" => match obj.get("token") {
                Some(Value::String(token)) if !token.is_empty() => Ok(Self::RefreshToken {
                    token: SecretText(token.clone()),
                }),
                _ => Err(FrameError::new(
                    ErrorCode::InvalidMessage,
                    "refresh_token needs a non-empty string \"token\"",
                )),
            },
            other => Err(FrameError::new(
                ErrorCode::UnknownType,
                format!("unknown message type {:?}", truncate(other, 64)),
            )),
        }
    }
}

/// Echoing a client's string back must not echo 64 KiB of it.
fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code(text: &str) -> ErrorCode {
        ClientMessage::parse(text).unwrap_err().code
    }

    #[test]
    fn known_messages_parse() {
        assert_eq!(
            ClientMessage::parse(r#"{"type":"ping","timestamp":{"a":[1]}}"#).unwrap(),
            ClientMessage::Ping {
                timestamp: json!({"a":[1]})
            }
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"ping"}"#).unwrap(),
            ClientMessage::Ping {
                timestamp: Value::Null
            }
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"mark_read","alert_id":5,"extra":true}"#).unwrap(),
            ClientMessage::MarkRead { alert_id: 5 }
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"mark_all_read"}"#).unwrap(),
            ClientMessage::MarkAllRead
        );
    }

    #[test]
    fn bad_frames_get_the_contract_codes() {
        assert_eq!(code("{"), ErrorCode::InvalidJson);
        assert_eq!(code("[1,2]"), ErrorCode::InvalidMessage);
        assert_eq!(code(r#"{"no_type":1}"#), ErrorCode::InvalidMessage);
        assert_eq!(code(r#"{"type":7}"#), ErrorCode::InvalidMessage);
        assert_eq!(
            code(r#"{"type":"mark_read","alert_id":"5"}"#),
            ErrorCode::InvalidMessage
        );
        assert_eq!(
            code(r#"{"type":"mark_read","alert_id":1.5}"#),
            ErrorCode::InvalidMessage
        );
        assert_eq!(code(r#"{"type":"dance"}"#), ErrorCode::UnknownType);
        assert_eq!(
            code(r#"{"type":"refresh_token"}"#),
            ErrorCode::InvalidMessage
        );
        assert_eq!(
            code(r#"{"type":"refresh_token","token":7}"#),
            ErrorCode::InvalidMessage
        );
    }

    #[test]
    fn a_refresh_token_never_prints_its_token() {
        let m =
            ClientMessage::parse(r#"{"type":"refresh_token","token":"s3cr3t.t0k.en"}"#).unwrap();
        let ClientMessage::RefreshToken { token } = &m else {
            panic!("{m:?}")
        };
        assert_eq!(token.expose(), "s3cr3t.t0k.en");
        assert!(!format!("{m:?}").contains("s3cr3t"));
    }

    /// Found by the fuzz target: a timestamp full of subnormal and long
    /// floats came back in `pong` a unit in the last place off, because
    /// serde_json parsed some of them inexactly (fixed by its
    /// `float_roundtrip` feature). The echo must be the same numbers.
    #[test]
    fn pong_echoes_every_number_of_the_timestamp_exactly() {
        let frame = r#"{"type":"ping","timestamp":{"a":["",1.516e-22,2,2227e-837,0E1,1222222771.5,2227e-837,0E1,1222222771.5,222226222227e-22,222261522.222772222227e-322,776222227e-22,22226116e-22,2,2227e-837,0E1,1222222771.5,2227e-837,0E1,1222222771.5,222226222227e-22,222261522.222772222227e-322,776222227e-22,222261522.222222772222227e-322,0E1,22771.5,2222277222226222227e-22,222261522.222772222227e-322,776222227e-22,222261522.222222772222227e-322,0E1,22771.5,22222772222227e-322,776222227e-22,222261522.22222,2227e-837,0E1,1222222771.5,2227e-837,0E1,1222222771.5,222226222227e-22,222261522.222772222227e-322,776222226e-22,222261522.22222277222226222227e-22,222261522.222772222227e-322,776222227e-22,222261522.222222722772222227e-322,0E1,22771.5,2222277222522.222222772222227e-322,0E1,22771.5,2222277222226222227e-22,222261522.222772222227e-322,776222227e-22,222261522.222222772222227e-322,0E1,22771.5,22222772222227e-322,776222227e-22,222261522.22222,2227e-837,0E1,1222222771.5,2227e-837,0E1,1222222771.5,222226222227e-22,222261522.222772222227e-322,776222226e-22,222261522.22222277222226222227e-22,222261522.222772222227e-322,776222227e-22,222261522.222222722772222227e-322,0E1,22771.5,2222277222226222227e-22,222266222227e-22,222261522.222772222227e-322,0E1,12,null]}}"#;
        let sent: Value = serde_json::from_str(frame).unwrap();
        let ClientMessage::Ping { timestamp } = ClientMessage::parse(frame).unwrap() else {
            panic!("not a ping");
        };
        let pong = crate::protocol::ServerMessage::Pong {
            timestamp: &timestamp,
            server_time: "2025-11-25T12:00:00Z",
        }
        .to_json();
        let pong: Value = serde_json::from_str(&pong).unwrap();
        assert_eq!(pong["timestamp"], sent["timestamp"]);
    }
}
