//! `DbActor`: every storage call of the running server.
//!
//! Diesel is blocking, so the actor runs on a `SyncArbiter` — N threads
//! sharing one r2d2 pool — and async callers `send` it typed messages.
//! Each message is one unit of work from `storage`; grouping of inserts
//! happens upstream, in the `AlertWriter`.

use actix::{Actor, Handler, Message, SyncContext};

use crate::models::{AlertRow, NewAlertRow, UserId};
use crate::storage::{self, DbPool, StorageError};

pub struct DbActor {
    pool: DbPool,
}

impl DbActor {
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

impl Actor for DbActor {
    type Context = SyncContext<Self>;
}

/// Flattens the answer of a `send` to the `DbActor`: a DbActor that cannot
/// take messages any more is storage being unavailable, like a failed query.
pub fn db_result<T>(
    sent: Result<Result<T, StorageError>, actix::MailboxError>,
) -> Result<T, StorageError> {
    sent.unwrap_or_else(|e| Err(StorageError::Unavailable(e.to_string())))
}

/// Declares a message's result and its handler: the body gets a pooled
/// connection, so every handler fails the same way when the pool is empty.
macro_rules! db_message {
    ($item:item $name:ident -> $out:ty, |$conn:ident, $msg:ident| $body:expr) => {
        #[derive(Debug)]
        $item

        impl Message for $name {
            type Result = Result<$out, StorageError>;
        }

        impl Handler<$name> for DbActor {
            type Result = Result<$out, StorageError>;

            fn handle(&mut self, $msg: $name, _: &mut SyncContext<Self>) -> Self::Result {
                let mut conn = self.pool.get()?;
                let $conn = &mut *conn;
                $body
            }
        }
    };
}

db_message!(
    /// Stores alerts in one transaction; each result says whether it was new.
    pub struct InsertAlerts(pub Vec<NewAlertRow>);
    InsertAlerts -> Vec<(AlertRow, bool)>,
    |conn, msg| storage::insert_alerts(conn, &msg.0)
);

db_message!(
    /// A page of a user's alerts, newest first (one extra row tells if more exist).
    pub struct ListAlerts {
        pub user: UserId,
        pub unread_only: bool,
        pub limit: i64,
        pub before: Option<i64>,
    }
    ListAlerts -> Vec<AlertRow>,
    |conn, msg| storage::list_alerts(conn, msg.user.as_str(), msg.unread_only, msg.limit, msg.before)
);

db_message!(
    pub struct UnreadCount(pub UserId);
    UnreadCount -> i64,
    |conn, msg| storage::unread_count(conn, msg.0.as_str())
);

db_message!(
    /// Marks one alert read; `None` if the user has no such alert.
    pub struct MarkRead {
        pub user: UserId,
        pub alert_id: i64,
    }
    MarkRead -> Option<(AlertRow, i64)>,
    |conn, msg| storage::mark_read(conn, msg.user.as_str(), msg.alert_id)
);

db_message!(
    /// Marks all of a user's alerts read; returns how many changed.
    pub struct MarkAllRead(pub UserId);
    MarkAllRead -> usize,
    |conn, msg| storage::mark_all_read(conn, msg.0.as_str())
);

db_message!(
    /// Alerts after `since`, oldest first, at most `max`, and whether more were skipped.
    pub struct ReplaySince {
        pub user: UserId,
        pub since: i64,
        pub max: i64,
    }
    ReplaySince -> (Vec<AlertRow>, bool),
    |conn, msg| storage::replay_since(conn, msg.user.as_str(), msg.since, msg.max)
);

db_message!(
    /// A user's alerts stored at or after a time, oldest first (multi-node catch-up).
    pub struct AlertsCreatedSince {
        pub user: UserId,
        pub since: chrono::NaiveDateTime,
        pub max: i64,
    }
    AlertsCreatedSince -> Vec<AlertRow>,
    |conn, msg| storage::alerts_created_since(conn, msg.user.as_str(), msg.since, msg.max)
);

db_message!(
    /// The user an opaque token belongs to, if it is live.
    pub struct TokenUser(pub String);
    TokenUser -> Option<String>,
    |conn, msg| storage::user_for_token(conn, &msg.0)
);

db_message!(
    /// A round trip to the database, for `/ready`.
    pub struct Ping;
    Ping -> (),
    |conn, _msg| storage::ping(conn)
);
