//! The `DbActor`'s messages: every storage call of the running server,
//! with its result type, and the handles sessions and hubs get to storage.

use actix::prelude::*;
use chrono::{DateTime, NaiveDateTime, Utc};

use crate::models::{AlertRow, UserId};
use crate::storage::{AlertFilter, Missed, PurgeStep, StorageError};

/// One stored alert and whether this request created it.
pub type Stored = (AlertRow, bool);

/// Flattens the answer of a `send` to the `DbActor`: a DbActor that cannot
/// take messages any more is storage being unavailable, like a failed query.
pub fn db_result<T>(
    sent: Result<Result<T, StorageError>, MailboxError>,
) -> Result<T, StorageError> {
    sent.unwrap_or_else(|e| Err(StorageError::Unavailable(e.to_string())))
}

/// A page of a user's alerts, newest first (one extra row tells if more
/// exist), and the user's unread count.
#[derive(Debug, Message)]
#[rtype(result = "Result<(Vec<AlertRow>, i64), StorageError>")]
pub struct ListAlerts {
    pub user: UserId,
    pub filter: AlertFilter,
    pub limit: i64,
}

#[derive(Debug, Message)]
#[rtype(result = "Result<i64, StorageError>")]
pub struct UnreadCount(pub UserId);

/// Marks one alert read and tells every session of the user (`alert_update`
/// then `unread_count`); `None` if the user has no such alert.
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<AlertRow>, StorageError>")]
pub struct MarkRead {
    pub user: UserId,
    pub alert_id: i64,
}

/// Marks all of a user's alerts read and tells every session; returns how
/// many changed.
#[derive(Debug, Message)]
#[rtype(result = "Result<usize, StorageError>")]
pub struct MarkAllRead(pub UserId);

/// Alerts after `since`, oldest first, at most `max`, and whether more were skipped.
#[derive(Debug, Message)]
#[rtype(result = "Result<(Vec<AlertRow>, bool), StorageError>")]
pub struct ReplaySince {
    pub user: UserId,
    pub since: i64,
    pub max: i64,
}

/// What these users missed while their Redis shard was away: the alerts
/// stored since a time and their unread counts, in one call for all of
/// them (the registry's catch-up, `storage::missed_by`).
#[derive(Debug, Message)]
#[rtype(result = "Result<Missed, StorageError>")]
pub struct MissedBy {
    pub users: Vec<String>,
    pub since: NaiveDateTime,
    /// The most alerts per user (past them: the next replay).
    pub per_user: i64,
}

/// The user an opaque token belongs to, if it is live.
#[derive(Message)]
#[rtype(result = "Result<Option<String>, StorageError>")]
pub struct TokenUser(pub String);

impl std::fmt::Debug for TokenUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenUser(***)")
    }
}

/// Sign-outs written at or after this instant, as (user, Unix ms).
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<(String, i64)>, StorageError>")]
pub struct SignOutsSince(pub DateTime<Utc>);

/// Mints an opaque token for a user; answers the token.
#[derive(Debug, Message)]
#[rtype(result = "Result<String, StorageError>")]
pub struct CreateToken {
    pub user: UserId,
    pub label: Option<String>,
}

/// Revokes an opaque token; answers what was found.
#[derive(Message)]
#[rtype(result = "Result<crate::storage::Revocation, StorageError>")]
pub struct RevokeToken(pub String);

impl std::fmt::Debug for RevokeToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RevokeToken(***)")
    }
}

/// Revokes the user's opaque tokens and voids their JWTs issued before `at`.
#[derive(Debug, Message)]
#[rtype(result = "Result<usize, StorageError>")]
pub struct SignOutUser {
    pub user: UserId,
    pub at: DateTime<Utc>,
}

/// One step of the retention purge: examine at most `window` alerts above
/// id `after`, delete the read ones created before `cutoff`.
#[derive(Debug, Message)]
#[rtype(result = "Result<PurgeStep, StorageError>")]
pub struct PurgeRead {
    pub cutoff: NaiveDateTime,
    pub after: i64,
    pub window: i64,
}

/// A round trip to the database, for `/ready`.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), StorageError>")]
pub struct Ping;

/// What a session asks of storage.
#[derive(Clone)]
pub struct SessionStorage {
    pub replay: Recipient<ReplaySince>,
    pub unread: Recipient<UnreadCount>,
    pub mark_read: Recipient<MarkRead>,
    pub mark_all_read: Recipient<MarkAllRead>,
}
