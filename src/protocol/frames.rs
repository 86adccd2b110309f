//! Every frame the server sends, built here and nowhere else: the live
//! frames a hub fans out (serialised once, shared by every session of the
//! user), the frames a session writes itself (greeting, replayed alerts,
//! answers), and every close code with its reason.

use bytestring::ByteString;
use serde_json::Value;

use super::client::ErrorCode;
use super::event::UserEvent;
use super::server::{AlertMessage, GREETING, ServerMessage, UpdateMessage};
use crate::models::AlertView;
use crate::models::time::now_timestamp;

/// One serialised server frame, shared by every session that sends it.
#[derive(Debug)]
pub struct Frame {
    pub text: ByteString,
    /// Set on live alerts, so a session that is replaying can skip an alert
    /// it has already sent.
    pub alert_id: Option<i64>,
    /// When the alert's trigger arrived (Unix ms), for the latency histogram.
    pub triggered_at_ms: Option<i64>,
}

impl Frame {
    /// The frame of a user event, as every session of the user gets it.
    pub fn of_event(event: &UserEvent) -> Self {
        match event {
            UserEvent::Alert {
                alert,
                triggered_at_ms,
            } => Self {
                text: alert_frame(alert, false).into(),
                alert_id: Some(alert.alert_id),
                triggered_at_ms: Some(*triggered_at_ms),
            },
            UserEvent::Update {
                alert_id,
                update_type,
                timestamp,
            } => Self::plain(
                ServerMessage::AlertUpdate {
                    message: UpdateMessage {
                        alert_id: *alert_id,
                        update_type: *update_type,
                        timestamp,
                    },
                }
                .to_json(),
            ),
            UserEvent::UnreadCount { count } => Self::plain(unread_count(*count)),
        }
    }

    fn plain(text: String) -> Self {
        Self {
            text: text.into(),
            alert_id: None,
            triggered_at_ms: None,
        }
    }
}

/// A `breach_alert`, live or replayed.
pub fn alert_frame(alert: &AlertView, replayed: bool) -> String {
    ServerMessage::BreachAlert {
        message: AlertMessage { alert, replayed },
        timestamp: &now_timestamp(),
    }
    .to_json()
}

/// `connection_established`, the first frame of every accepted session.
pub fn greeting(user_id: &str, session_id: &str, expires_at: Option<&str>) -> String {
    ServerMessage::ConnectionEstablished {
        message: GREETING,
        user_id,
        timestamp: &now_timestamp(),
        session_id,
        expires_at,
    }
    .to_json()
}

/// The answer to a good `refresh_token`.
pub fn token_refreshed(expires_at: Option<&str>) -> String {
    ServerMessage::TokenRefreshed { expires_at }.to_json()
}

pub fn replay_truncated(oldest_alert_id: i64) -> String {
    ServerMessage::ReplayTruncated { oldest_alert_id }.to_json()
}

pub fn pong(timestamp: &Value) -> String {
    ServerMessage::Pong {
        timestamp,
        server_time: &now_timestamp(),
    }
    .to_json()
}

pub fn subscribed(user_id: &str) -> String {
    ServerMessage::Subscribed {
        user_id,
        timestamp: &now_timestamp(),
    }
    .to_json()
}

pub fn unread_count(count: i64) -> String {
    ServerMessage::UnreadCount { count }.to_json()
}

pub fn error(code: ErrorCode, message: &str) -> String {
    ServerMessage::Error { code, message }.to_json()
}

/// Every way the server closes a WebSocket: its code and its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// The client closed; the server answers with the same code.
    Echo(u16),
    /// A text frame over the size limit (64 KiB).
    TooLarge,
    Binary,
    Fragmented,
    InvalidUtf8,
    /// Any other violation of RFC 6455.
    Protocol,
    HeartbeatTimeout,
    ShuttingDown,
    SlowConsumer,
    RateLimited,
    TooManySessions,
    AuthenticationFailed,
    UserMismatch,
    /// The session's JWT reached its `exp` (not terminal: reconnect with a
    /// fresh token).
    TokenExpired,
    /// The session's opaque token was revoked, or is no longer active at
    /// the introspection endpoint.
    TokenRevoked,
    /// `POST /api/v1/users/{user_id}/sign-out`.
    SignedOut,
    /// The server cannot admit the session right now (it is stopping).
    Unavailable,
}

impl Close {
    pub fn code(self) -> u16 {
        match self {
            Self::Echo(code) => code,
            Self::HeartbeatTimeout | Self::ShuttingDown => 1001,
            Self::Protocol => 1002,
            Self::Binary | Self::Fragmented => 1003,
            Self::InvalidUtf8 => 1007,
            Self::TooLarge => 1009,
            Self::Unavailable => 1011,
            Self::SlowConsumer => 1013,
            Self::TokenExpired => 4001,
            Self::AuthenticationFailed
            | Self::UserMismatch
            | Self::TokenRevoked
            | Self::SignedOut => 4003,
            Self::RateLimited | Self::TooManySessions => 4029,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Self::Echo(_) => "",
            Self::TooLarge => "frame too large (64 KiB at most)",
            Self::Binary => "binary frames are not supported",
            Self::Fragmented => "fragmented messages are not supported",
            Self::InvalidUtf8 => "text frames must be UTF-8",
            Self::Protocol => "protocol error",
            Self::HeartbeatTimeout => "heartbeat timeout",
            Self::ShuttingDown => "server shutting down",
            Self::SlowConsumer => "slow consumer: reconnect with since",
            Self::RateLimited => "rate limited",
            Self::TooManySessions => "too many sessions",
            Self::AuthenticationFailed => "authentication failed",
            Self::UserMismatch => "user mismatch",
            Self::TokenExpired => "token expired",
            Self::TokenRevoked => "token revoked",
            Self::SignedOut => "signed out",
            Self::Unavailable => "server is shutting down",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::UpdateType;

    #[test]
    fn an_event_frame_carries_what_sessions_need() {
        let update = Frame::of_event(&UserEvent::Update {
            alert_id: Some(3),
            update_type: UpdateType::MarkedRead,
            timestamp: "2025-11-25T12:00:00Z".into(),
        });
        let v: Value = serde_json::from_str(&update.text).unwrap();
        assert_eq!(v["type"], "alert_update");
        assert_eq!(v["message"]["update_type"], "marked_read");
        assert_eq!(update.alert_id, None);
        let count: Value = serde_json::from_str(&unread_count(4)).unwrap();
        assert_eq!(count, serde_json::json!({"type":"unread_count","count":4}));
    }

    #[test]
    fn close_codes_follow_the_contract() {
        assert_eq!(Close::AuthenticationFailed.code(), 4003);
        assert_eq!(Close::TooManySessions.code(), 4029);
        assert_eq!(
            (Close::TokenExpired.code(), Close::TokenExpired.reason()),
            (4001, "token expired")
        );
        assert_eq!(
            (Close::TokenRevoked.code(), Close::TokenRevoked.reason()),
            (4003, "token revoked")
        );
        assert_eq!(
            (Close::SignedOut.code(), Close::SignedOut.reason()),
            (4003, "signed out")
        );
        assert_eq!(Close::SlowConsumer.code(), 1013);
        assert_eq!(Close::InvalidUtf8.code(), 1007);
        assert_eq!(Close::TooLarge.code(), 1009);
        assert_eq!(Close::Echo(1000).code(), 1000);
    }
}
