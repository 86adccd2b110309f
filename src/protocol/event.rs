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
