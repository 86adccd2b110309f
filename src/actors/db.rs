//! `DbActor`: every storage call of the running server, and the read-state
//! updates that go with them.
//!
//! Diesel is blocking, so the actor runs on a `SyncArbiter` — N threads
//! sharing one r2d2 pool, each keeping the connection it last used while
//! that answers (`storage::held`: no check-out round trip for a busy
//! thread) — and async callers send it the storage messages of `messages`.
//! Each handler says whether its call may run twice if the connection dies
//! under it (`Retry`). The trigger's inserts are not among them: the
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
    CreateToken, ListAlerts, MarkAllRead, MarkRead, MissedBy, Ping, PurgeRead, ReplaySince,
    RevokeToken, SignOutUser, SignOutsSince, TokenUser, UnreadCount,
};
use crate::delivery::Delivery;
use crate::models::push::SubscriptionRow;
use crate::models::time::now_timestamp;
use crate::models::{AlertRow, UserId};
use crate::protocol::{UpdateType, UserEvent};
use crate::storage::{
    self, AnyConnection, DbHealth, DbPool, HeldConnection, PurgeStep, PushJob, Retry, StorageError,
};

pub struct DbActor {
    /// This thread's connection, kept while it answers (`storage::held`).
    conn: HeldConnection,
    delivery: Delivery,
    health: Arc<DbHealth>,
}

impl DbActor {
    pub fn new(pool: DbPool, delivery: Delivery, health: Arc<DbHealth>) -> Self {
        Self {
            conn: HeldConnection::new(pool),
            delivery,
            health,
        }
    }

    /// Runs `work` on this thread's connection, recording the outcome.
    fn with_conn<T>(
        &mut self,
        retry: Retry,
        work: impl FnMut(&mut AnyConnection) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        self.conn.run(&self.health, retry, work)
    }

    /// A read-state change, to every session of the user on every node:
    /// the `alert_update`, then the new `unread_count`.
    fn tell_every_tab(
        &self,
        user: UserId,
        alert_id: Option<i64>,
        update_type: UpdateType,
        count: i64,
    ) {
        let update = UserEvent::Update {
            alert_id,
            update_type,
            timestamp: now_timestamp(),
        };
        self.delivery.publish(user.clone(), update);
        self.delivery
            .publish(user, UserEvent::UnreadCount { count });
    }
}

impl Actor for DbActor {
    type Context = SyncContext<Self>;
}

/// Implements `Handler<$msg>` as one storage call on this thread's
/// connection. `Safe` marks a call that may run twice, if the connection
/// dies under it, because its second run answers as the first did (reads,
/// marking one alert read); `Once`, every other write (`storage::held`).
macro_rules! handle {
    ($msg:ty => $out:ty, $retry:ident, |$conn:ident, $m:ident| $body:expr) => {
        impl Handler<$msg> for DbActor {
            type Result = Result<$out, StorageError>;

            fn handle(&mut self, $m: $msg, _: &mut SyncContext<Self>) -> Self::Result {
                let $m = &$m;
                self.with_conn(Retry::$retry, |$conn| $body)
            }
        }
    };
}

handle!(ListAlerts => (Vec<AlertRow>, i64), Safe, |conn, msg| storage::list_alerts(
    conn,
    msg.user.as_str(),
    &msg.filter,
    msg.limit
));
handle!(UnreadCount => i64, Safe, |conn, msg| storage::unread_count(conn, msg.0.as_str()));
handle!(ReplaySince => (Vec<AlertRow>, bool), Safe, |conn, msg| storage::replay_since(
    conn,
    msg.user.as_str(),
    msg.since,
    msg.max
));
handle!(MissedBy => storage::Missed, Safe, |conn, msg| storage::missed_by(
    conn,
    &msg.users,
    msg.since,
    msg.per_user
));
handle!(TokenUser => Option<String>, Safe, |conn, msg| storage::user_for_token(conn, &msg.0));
handle!(Ping => (), Safe, |conn, _msg| storage::ping(conn));
handle!(SignOutsSince => Vec<(String, i64)>, Safe, |conn, msg| storage::sign_outs_since(
    conn,
    Some(msg.0)
));
handle!(ListSubscriptions => Vec<SubscriptionRow>, Safe, |conn, msg| {
    storage::list_subscriptions(conn, msg.0.as_str())
});

// A purge step run again would count fewer rows deleted and move its
// cursor past rows it never examined: once.
handle!(PurgeRead => PurgeStep, Once, |conn, msg| storage::purge_step(
    conn,
    msg.cutoff,
    msg.after,
    msg.window
));
handle!(CreateToken => String, Once, |conn, msg| storage::create_labelled_token(
    conn,
    msg.user.as_str(),
    msg.label.as_deref()
));
handle!(RevokeToken => storage::Revocation, Once, |conn, msg| storage::revoke(conn, &msg.0));
handle!(SignOutUser => usize, Once, |conn, msg| storage::sign_out(
    conn,
    msg.user.as_str(),
    msg.at
));
handle!(CreateSubscription => Option<(SubscriptionRow, bool)>, Once, |conn, msg| {
    storage::create_subscription(conn, msg.user.as_str(), &msg.subscription, now_naive())
});
handle!(DeleteSubscription => bool, Once, |conn, msg| {
    storage::delete_subscription(conn, msg.user.as_str(), msg.id)
});
handle!(ClaimDuePushes => (Vec<PushJob>, Option<chrono::NaiveDateTime>), Once, |conn, msg| {
    let jobs = storage::claim_due_pushes(conn, &msg.node, msg.now, msg.lease_until, msg.limit)?;
    Ok((jobs, storage::next_push_due(conn)?))
});
handle!(RecordPushOutcomes => (), Once, |conn, msg| {
    storage::record_push_outcomes(conn, &msg.node, &msg.outcomes)
});

// Marking an alert that is already read pushes again: a tab waiting for the
// update as its acknowledgement gets one either way. For the same reason a
// second run (`Safe`) answers as the first: the row, read, and the count.
impl Handler<MarkRead> for DbActor {
    type Result = Result<Option<AlertRow>, StorageError>;

    fn handle(&mut self, msg: MarkRead, _: &mut SyncContext<Self>) -> Self::Result {
        let marked = self.with_conn(Retry::Safe, |conn| {
            storage::mark_read(conn, msg.user.as_str(), msg.alert_id)
        })?;
        let Some((row, count)) = marked else {
            return Ok(None);
        };
        self.tell_every_tab(msg.user, Some(msg.alert_id), UpdateType::MarkedRead, count);
        Ok(Some(row))
    }
}

// A second run would answer 0 marked: once.
impl Handler<MarkAllRead> for DbActor {
    type Result = Result<usize, StorageError>;

    fn handle(&mut self, msg: MarkAllRead, _: &mut SyncContext<Self>) -> Self::Result {
        let marked = self.with_conn(Retry::Once, |conn| {
            storage::mark_all_read(conn, msg.0.as_str())
        })?;
        self.tell_every_tab(msg.0, None, UpdateType::MarkedAllRead, 0);
        Ok(marked)
    }
}

/// Now, as stored (microseconds, UTC).
fn now_naive() -> chrono::NaiveDateTime {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6).naive_utc()
}
