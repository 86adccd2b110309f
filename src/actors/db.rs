//! `DbActor`: every storage call of the running server, and the read-state
//! updates that go with them.
//!
//! Diesel is blocking, so the actor runs on a `SyncArbiter` — N threads
//! sharing one r2d2 pool — and async callers send it the storage messages
//! of `messages`. The trigger's inserts are not among them: the
//! `AlertWriter` stores its groups itself, on its own thread and with a
//! connection of its own, so a trigger never waits in the queue behind a
//! reconnect storm's replays. Each message is one unit of work from
//! `storage`. Marking alerts read also
//! tells every session of the user (`alert_update`, then `unread_count`),
//! from here, so the WebSocket and the REST paths update every tab alike.

use std::sync::Arc;

use actix::{Actor, Handler, SyncContext};

use super::messages::push::{
    ClaimDuePushes, CreateSubscription, DeleteSubscription, ListSubscriptions, RecordPushOutcomes,
};
use super::messages::{
    AlertsCreatedSince, CreateToken, ListAlerts, MarkAllRead, MarkRead, Ping, PurgeRead,
    ReplaySince, RevokeToken, SignOutUser, SignOutsSince, TokenUser, UnreadCount,
};
use crate::delivery::Delivery;
use crate::models::AlertRow;
use crate::models::push::SubscriptionRow;
use crate::models::time::now_timestamp;
use crate::protocol::{UpdateType, UserEvent};
use crate::storage::{self, AnyConnection, DbHealth, DbPool, PurgeStep, PushJob, StorageError};

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

    /// Runs `work` on a pooled connection, recording the outcome.
    fn with_conn<T>(
        &self,
        work: impl FnOnce(&mut AnyConnection) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        storage::with_connection(&self.pool, &self.health, work)
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

handle!(ListAlerts => (Vec<AlertRow>, i64), |_a, conn, msg| storage::list_alerts(
    conn,
    msg.user.as_str(),
    &msg.filter,
    msg.limit
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

handle!(CreateSubscription => Option<(SubscriptionRow, bool)>, |_a, conn, msg| {
    storage::create_subscription(conn, msg.user.as_str(), &msg.subscription, now_naive())
});
handle!(ListSubscriptions => Vec<SubscriptionRow>, |_a, conn, msg| {
    storage::list_subscriptions(conn, msg.0.as_str())
});
handle!(DeleteSubscription => bool, |_a, conn, msg| {
    storage::delete_subscription(conn, msg.user.as_str(), msg.id)
});
handle!(ClaimDuePushes => (Vec<PushJob>, Option<chrono::NaiveDateTime>), |_a, conn, msg| {
    let jobs = storage::claim_due_pushes(conn, &msg.node, msg.now, msg.lease_until, msg.limit)?;
    Ok((jobs, storage::next_push_due(conn)?))
});
handle!(RecordPushOutcomes => (), |_a, conn, msg| {
    storage::record_push_outcomes(conn, &msg.node, &msg.outcomes)
});

/// Now, as stored (microseconds, UTC).
fn now_naive() -> chrono::NaiveDateTime {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6).naive_utc()
}
