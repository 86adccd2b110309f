//! `DbActor`: every storage call of the running server, and the read-state
//! updates that go with them.
//!
//! Diesel is blocking, so the actor runs on a `SyncArbiter` — N threads
//! sharing one r2d2 pool — and async callers send it the storage messages
//! of `messages`. Each is one unit of work from `storage`; grouping of
//! inserts happens upstream, in the `AlertWriter`. Marking alerts read also
//! tells every session of the user (`alert_update`, then `unread_count`),
//! from here, so the WebSocket and the REST paths update every tab alike.

use actix::{Actor, Handler, SyncContext};

use super::messages::{
    AlertsCreatedSince, CreateToken, InsertAlerts, ListAlerts, MarkAllRead, MarkRead, Ping,
    ReplaySince, RevokeToken, SignOutUser, SignOutsSince, Stored, TokenUser, UnreadCount,
};
use crate::delivery::Delivery;
use crate::models::AlertRow;
use crate::models::time::now_timestamp;
use crate::protocol::{UpdateType, UserEvent};
use crate::storage::{self, AnyConnection, DbPool, StorageError};

pub struct DbActor {
    pool: DbPool,
    delivery: Delivery,
}

impl DbActor {
    pub fn new(pool: DbPool, delivery: Delivery) -> Self {
        Self { pool, delivery }
    }

    /// Runs `work` on a pooled connection: every handler fails the same way
    /// when the pool is empty.
    fn with_conn<T>(
        &self,
        work: impl FnOnce(&mut AnyConnection) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let mut conn = self.pool.get()?;
        work(&mut conn)
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
handle!(SignOutsSince => Vec<(String, i64)>, |_a, conn, msg| storage::sign_outs_since(
    conn,
    Some(msg.0)
));
handle!(CreateToken => String, |_a, conn, msg| storage::create_labelled_token(
    conn,
    msg.user.as_str(),
    msg.label.as_deref()
));
handle!(RevokeToken => storage::Revocation, |_a, conn, msg| storage::revoke(conn, &msg.0));
handle!(SignOutUser => usize, |_a, conn, msg| storage::sign_out(conn, msg.user.as_str(), msg.at));

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
