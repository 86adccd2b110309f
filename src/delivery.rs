//! Handing events to a user's sessions wherever they are.
//!
//! Producers (the trigger, the alert writer, read-state changes) call
//! `Delivery`; they do not know whether the user's sessions are on this node.
//! In single-node mode the event goes straight to the `Registry`, which finds
//! the user's `AlertHub`. In multi-node mode the event is also published on
//! the user's Redis channel for the other nodes; this node does not wait for
//! Redis to deliver locally, so its own sessions are served even while
//! Redis is down.

use actix::Addr;
use serde::{Deserialize, Serialize};

use crate::actors::registry::{Deliver, Registry};
use crate::models::{AlertView, UserId};
use crate::protocol::UpdateType;
use crate::redis::publisher::Publisher;

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

#[derive(Clone)]
pub struct Delivery {
    registry: Addr<Registry>,
    publisher: Option<Publisher>,
}

impl Delivery {
    pub fn new(registry: Addr<Registry>, publisher: Option<Publisher>) -> Self {
        Self {
            registry,
            publisher,
        }
    }

    pub fn publish(&self, user: UserId, event: UserEvent) {
        if let Some(publisher) = &self.publisher {
            publisher.publish(&user, event.clone());
        }
        self.registry.do_send(Deliver { user, event });
    }
}

/// Unix time in milliseconds, the clock events carry between nodes.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
