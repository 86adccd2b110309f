//! The JSON of every frame the server sends (contract §1), as serde types.
//! `frames` builds them; nothing else serialises a frame.

use serde::Serialize;
use serde_json::Value;

use super::client::ErrorCode;
use crate::models::AlertView;

/// `alert_update.message.update_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateType {
    MarkedRead,
    MarkedAllRead,
}

/// `breach_alert.message`: the alert, flagged when it comes from a replay.
#[derive(Debug, Serialize)]
pub struct AlertMessage<'a> {
    #[serde(flatten)]
    pub alert: &'a AlertView,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub replayed: bool,
}

#[derive(Debug, Serialize)]
pub struct UpdateMessage<'a> {
    pub alert_id: Option<i64>,
    pub update_type: UpdateType,
    pub timestamp: &'a str,
}

/// Every frame the server sends.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage<'a> {
    ConnectionEstablished {
        message: &'a str,
        user_id: &'a str,
        timestamp: &'a str,
        /// Unique in the cluster: names the session to `sign-out`'s
        /// `except_session` (contract §5).
        session_id: &'a str,
        /// The JWT's `exp`; `null` for an opaque token.
        expires_at: Option<&'a str>,
    },
    TokenRefreshed {
        expires_at: Option<&'a str>,
    },
    BreachAlert {
        message: AlertMessage<'a>,
        timestamp: &'a str,
    },
    ReplayTruncated {
        oldest_alert_id: i64,
    },
    Pong {
        timestamp: &'a Value,
        server_time: &'a str,
    },
    UnreadCount {
        count: i64,
    },
    AlertUpdate {
        message: UpdateMessage<'a>,
    },
    Subscribed {
        user_id: &'a str,
        timestamp: &'a str,
    },
    Error {
        code: ErrorCode,
        message: &'a str,
    },
}

/// The greeting the replaced system sent; kept word for word.
pub const GREETING: &str = "Connected to ML-powered breach alert system";

impl ServerMessage<'_> {
    pub fn to_json(&self) -> String {
        // Serialising these types cannot fail: every field is a plain value.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::AlertView;

    #[test]
    fn live_alerts_carry_no_replayed_flag() {
        let view = AlertView {
            alert_id: 1,
            breach_id: "B".into(),
            title: "T".into(),
            severity: "HIGH".into(),
            confidence: 0.5,
            detected_at: "2025-11-25T12:00:00Z".into(),
            description: None,
            source: None,
            read: false,
            created_at: "2025-11-25T12:00:00Z".into(),
        };
        let live = ServerMessage::BreachAlert {
            message: AlertMessage {
                alert: &view,
                replayed: false,
            },
            timestamp: "t",
        };
        let v: Value = serde_json::from_str(&live.to_json()).unwrap();
        assert_eq!(v["type"], "breach_alert");
        assert!(v["message"].get("replayed").is_none());
        assert_eq!(v["message"]["description"], Value::Null);
        let replayed = ServerMessage::BreachAlert {
            message: AlertMessage {
                alert: &view,
                replayed: true,
            },
            timestamp: "t",
        };
        let v: Value = serde_json::from_str(&replayed.to_json()).unwrap();
        assert_eq!(v["message"]["replayed"], true);
    }
}
