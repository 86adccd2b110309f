//! A WebSocket text frame from a client, as `Session` hands it to
//! `ClientMessage::parse`, and the frame the server answers with.
//!
//! Checks, beyond "does not panic":
//! - a frame is accepted only if it is a JSON object whose `type` is one of
//!   the contract's six and whose fields match (`mark_read` needs an
//!   integer `alert_id`, `refresh_token` a non-empty string `token`, which
//!   its `Debug` never prints);
//! - the answer (a `pong` echoing the timestamp, or an `error` frame) is one
//!   valid JSON object, and `pong` echoes exactly what was sent;
//! - an error frame never echoes more than a bounded part of the input
//!   (`unknown_type` truncates the type to 64 characters).
#![no_main]

use alerthub::protocol::{ClientMessage, ErrorCode, ServerMessage};
use alerthub_fuzz::json_eq;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Longest error message the server may send for one frame: a sentence
/// plus 64 echoed characters, each at most 10 bytes once escaped for
/// `Debug` (`\u{10ffff}`). A 64 KiB frame echoed back would be far over.
const MAX_ERROR_MESSAGE: usize = 64 + 64 * 10;

fuzz_target!(|data: &[u8]| {
    // Text frames are UTF-8 (actix refuses others before the session sees
    // them), so only valid UTF-8 reaches the parser.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = ClientMessage::parse(text);
    // Whatever the parser decided, serde_json must agree on the shape.
    let as_json: Option<Value> = serde_json::from_str(text).ok();
    match parsed {
        Ok(message) => {
            let obj = as_json
                .as_ref()
                .and_then(Value::as_object)
                .expect("accepted a frame that is not a JSON object");
            let kind = obj.get("type").and_then(Value::as_str);
            match &message {
                ClientMessage::Ping { timestamp } => {
                    assert_eq!(kind, Some("ping"));
                    let sent = obj.get("timestamp").unwrap_or(&Value::Null);
                    assert!(json_eq(timestamp, sent), "ping timestamp changed");
                    let pong = ServerMessage::Pong {
                        timestamp,
                        server_time: "2025-11-25T12:00:00Z",
                    }
                    .to_json();
                    let pong: Value = serde_json::from_str(&pong).expect("pong is not JSON");
                    assert_eq!(pong["type"], "pong");
                    assert!(
                        json_eq(&pong["timestamp"], sent),
                        "pong does not echo the timestamp"
                    );
                }
                ClientMessage::GetUnreadCount => assert_eq!(kind, Some("get_unread_count")),
                ClientMessage::SubscribeToUpdates => {
                    assert_eq!(kind, Some("subscribe_to_updates"))
                }
                ClientMessage::MarkAllRead => assert_eq!(kind, Some("mark_all_read")),
                ClientMessage::MarkRead { alert_id } => {
                    assert_eq!(kind, Some("mark_read"));
                    assert_eq!(obj.get("alert_id").and_then(Value::as_i64), Some(*alert_id));
                }
                ClientMessage::RefreshToken { token } => {
                    assert_eq!(kind, Some("refresh_token"));
                    let sent = obj.get("token").and_then(Value::as_str);
                    assert_eq!(sent, Some(token.expose()));
                    assert!(!token.expose().is_empty());
                    assert_eq!(
                        format!("{message:?}"),
                        "RefreshToken { token: SecretText(***) }"
                    );
                }
            }
        }
        Err(e) => {
            match e.code {
                ErrorCode::InvalidJson => {
                    assert!(as_json.is_none(), "valid JSON refused as invalid_json")
                }
                ErrorCode::InvalidMessage | ErrorCode::UnknownType => {
                    assert!(
                        as_json.is_some(),
                        "invalid JSON not refused as invalid_json"
                    )
                }
                other => panic!("the parser answered {other:?}"),
            }
            if e.code == ErrorCode::UnknownType {
                let kind = as_json.as_ref().and_then(|v| v["type"].as_str());
                assert!(
                    !matches!(
                        kind,
                        Some(
                            "ping"
                                | "get_unread_count"
                                | "subscribe_to_updates"
                                | "mark_read"
                                | "mark_all_read"
                                | "refresh_token"
                        )
                    ),
                    "a known type answered unknown_type"
                );
            }
            let frame = ServerMessage::Error {
                code: e.code,
                message: &e.message,
            }
            .to_json();
            let frame: Value = serde_json::from_str(&frame).expect("error frame is not JSON");
            assert_eq!(frame["type"], "error");
            assert!(
                e.message.len() <= MAX_ERROR_MESSAGE,
                "error message of {} bytes echoes the input",
                e.message.len()
            );
        }
    }
});
