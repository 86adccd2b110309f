//! `UserEvent`: what every session of one user must see, the unit hubs fan
//! out and nodes exchange through Redis (serialised as JSON inside an
//! envelope, see `redis`).

use serde::{Deserialize, Serialize};

use super::server::UpdateType;
use crate::models::AlertView;

/// Something every session of one user must see.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UserEvent {
    /// A newly stored alert. `triggered_at_ms` is when the trigger arrived,
    /// in Unix milliseconds, for the trigger-to-send histogram.
    Alert {
        alert: AlertView,
        triggered_at_ms: i64,
    },
    Update {
        alert_id: Option<i64>,
        update_type: UpdateType,
        timestamp: String,
    },
    UnreadCount {
        count: i64,
    },
}

/// What ends sessions because a credential ended (contract §5): applied on
/// the node that caused it and, in multi-node mode, carried to every other
/// node on the control channel (see `redis`). User ids travel as strings
/// and are checked again on receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ControlEvent {
    /// An opaque token was revoked: close the sessions it opened or
    /// refreshed, forget what was cached about it. `token_hash` is the
    /// token's SHA-256 in hex (the token itself never leaves the node that
    /// was given it).
    TokenRevoked { user: String, token_hash: String },
    /// `sign-out`: close the user's sessions except one; with
    /// `revoke_tokens`, JWTs issued before `at_ms` (Unix ms) are void.
    SignedOut {
        user: String,
        except_session: Option<String>,
        revoke_tokens: bool,
        at_ms: i64,
    },
}
