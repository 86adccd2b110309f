//! `DbActor`: every storage call of the running server, and the read-state
//! updates that go with them.
//!
//! Diesel is blocking, so the actor runs on a `SyncArbiter` — N threads
//! sharing one r2d2 pool — and async callers send it the storage messages
//! of `messages`. Each is one unit of work from `storage`; grouping of
//! inserts happens upstream, in the `AlertWriter`. Marking alerts read also
//! tells every session of the user (`alert_update`, then `unread_count`),
//! from here, so the WebSocket and the REST paths update every tab alike.

use std::sync::Arc;

use actix::{Actor, Handler, SyncContext};

use super::messages::{
    AlertsCreatedSince, InsertAlerts, ListAlerts, MarkAllRead, MarkRead, Ping, PurgeRead,
    ReplaySince, Stored, TokenUser, UnreadCount,
};
use crate::delivery::Delivery;
use crate::models::AlertRow;
use crate::models::time::now_timestamp;
use crate::protocol::{UpdateType, UserEvent};
use crate::storage::{self, AnyConnection, DbHealth, DbPool, PurgeStep, StorageError};

pub struct DbActor {
    pool: DbPool,
    delivery: Delivery,
    health: Arc<DbHealth>,
}

impl DbActor {
    pub fn new(pool: DbPool, delivery: Delivery, health: Arc<DbHealth>) -> Self {
        Self {
            pool,
            delivery,
            health,
        }
    }

    /// Runs `work` on a pooled connection: every handler fails the same way
    /// when the pool is empty. The outcome is recorded in `health` (a row
    /// the database refused still means the database answered).
    fn with_conn<T>(
        &self,
        work: impl FnOnce(&mut AnyConnection) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let result = self
            .pool
            .get()
            .map_err(StorageError::from)
            .and_then(|mut conn| work(&mut conn));
        self.health.record(
            result
                .as_ref()
                .map_or_else(StorageError::is_refusal, |_| true),
        );
        result
    }
}

impl Actor for DbActor {
    type Context = SyncContext<Self>;
}

/// Implements `Handler<$msg>` as one storage call on a pooled connection.
macro_rules! handle {
    ($msg:ty => $out:ty, |$actor:ident, $conn:ident, $m:ident| $body:expr) => {
        impl Handler<$msg> for DbActor {
            type Result = Result<$out, StorageError>;

            fn handle(&mut self, $m: $msg, _: &mut SyncContext<Self>) -> Self::Result {
                let $actor = &*self;
                $actor.with_conn(|$conn| $body)
            }
        }
    };
}

handle!(InsertAlerts => Vec<Stored>, |_a, conn, msg| storage::insert_alerts(conn, &msg.0));
handle!(ListAlerts => Vec<AlertRow>, |_a, conn, msg| storage::list_alerts(
    conn,
    msg.user.as_str(),
    msg.unread_only,
    msg.limit,
    msg.before
));
handle!(UnreadCount => i64, |_a, conn, msg| storage::unread_count(conn, msg.0.as_str()));
handle!(ReplaySince => (Vec<AlertRow>, bool), |_a, conn, msg| storage::replay_since(
    conn,
    msg.user.as_str(),
    msg.since,
    msg.max
));
handle!(AlertsCreatedSince => Vec<AlertRow>, |_a, conn, msg| storage::alerts_created_since(
    conn,
    msg.user.as_str(),
    msg.since,
    msg.max
));
handle!(TokenUser => Option<String>, |_a, conn, msg| storage::user_for_token(conn, &msg.0));
handle!(Ping => (), |_a, conn, _msg| storage::ping(conn));
handle!(PurgeRead => PurgeStep, |_a, conn, msg| storage::purge_step(
    conn,
    msg.cutoff,
    msg.after,
    msg.window
));

// Marking an alert that is already read pushes again: a tab waiting for the
// update as its acknowledgement gets one either way.
handle!(MarkRead => Option<AlertRow>, |actor, conn, msg| {
    let Some((row, count)) = storage::mark_read(conn, msg.user.as_str(), msg.alert_id)? else {
        return Ok(None);
    };
    actor.delivery.publish(
        msg.user.clone(),
        UserEvent::Update {
            alert_id: Some(msg.alert_id),
            update_type: UpdateType::MarkedRead,
            timestamp: now_timestamp(),
        },
    );
    actor.delivery.publish(msg.user, UserEvent::UnreadCount { count });
    Ok(Some(row))
});

handle!(MarkAllRead => usize, |actor, conn, msg| {
    let marked = storage::mark_all_read(conn, msg.0.as_str())?;
    actor.delivery.publish(
        msg.0.clone(),
        UserEvent::Update {
            alert_id: None,
            update_type: UpdateType::MarkedAllRead,
            timestamp: now_timestamp(),
        },
    );
    actor.delivery.publish(msg.0, UserEvent::UnreadCount { count: 0 });
    Ok(marked)
});
