//! Alerts in storage: the grouped insert of the trigger's hot path (with
//! per-user id order on PostgreSQL, in `postgres`), telling a refused row
//! from an unavailable database, and the reads and read-state updates.

use diesel::prelude::*;

use super::connection::{AnyConnection, StorageError, on_backend};
use super::refusal::classify_insert_error;
use crate::models::schema::{alerts, user_unread};
use crate::models::{AlertRow, NEW_ALERT_COLUMNS, NewAlertRow};

mod answers;
mod missed;
mod postgres;

use answers::answer_per_row;
pub use missed::{Missed, missed_by};

/// Rows per multi-row INSERT on SQLite: as many as fit in one statement's
/// variables (`SQLITE_MAX_VARIABLE_NUMBER`, 32,766). A statement over the
/// limit fails, and the writer would take that for a refused group and
/// store its requests one by one: one commit per request instead of one
/// per group.
const SQLITE_CHUNK: usize = 32_766 / NEW_ALERT_COLUMNS;

/// Stores alerts in one transaction; an existing (user, breach) pair is
/// returned as it is stored, with `created == false` (also for a pair that
/// repeats within `rows`). A failure is typed: `Refused` when the database
/// will not take these rows (nothing was stored), else unavailable.
pub fn insert_alerts(
    conn: &mut AnyConnection,
    rows: &[NewAlertRow],
) -> Result<Vec<(AlertRow, bool)>, StorageError> {
    let result = match conn {
        // IMMEDIATE takes the write lock up front: a deferred transaction
        // that upgrades later can fail with SQLITE_BUSY despite busy_timeout.
        AnyConnection::Sqlite(c) => c.immediate_transaction(|c| {
            let mut stored = Vec::new();
            for chunk in rows.chunks(SQLITE_CHUNK) {
                stored.extend(
                    diesel::insert_into(alerts::table)
                        .values(chunk)
                        .on_conflict((alerts::user_id, alerts::breach_id))
                        .do_nothing()
                        .returning(AlertRow::as_returning())
                        .get_results(c)?,
                );
            }
            let created = stored.into_iter().map(|row| (row, true)).collect();
            answer_per_row(rows, created, |row| {
                alerts::table
                    .filter(alerts::user_id.eq(&row.user_id))
                    .filter(alerts::breach_id.eq(&row.breach_id))
                    .select(AlertRow::as_select())
                    .first(c)
            })
        }),
        AnyConnection::Postgresql(c) => postgres::store(c, rows),
    };
    result.map_err(|e| classify_insert_error(conn, e))
}

/// Which of a user's alerts a page shows: `unread_only`, `severities` (empty
/// = every severity), and the `before` cursor.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub unread_only: bool,
    pub severities: Vec<String>,
    pub before: Option<i64>,
}

/// One page of a user's alerts, newest first, and the user's unread count
/// (of all their alerts, whatever the filter), read in one transaction (one
/// snapshot on SQLite; on PostgreSQL's READ COMMITTED the count may already
/// include an alert stored while the page was read). Returns up to `limit + 1` rows so the caller can tell
/// whether another page exists.
///
/// The page walks the `(user_id, id)` index backwards and filters read
/// state and severity on the rows it meets; a severity index would make the
/// common "every severity" page sort all of a user's rows instead.
pub fn list_alerts(
    conn: &mut AnyConnection,
    user: &str,
    filter: &AlertFilter,
    limit: i64,
) -> Result<(Vec<AlertRow>, i64), StorageError> {
    let page = conn.transaction(|c| {
        let rows = on_backend!(c, |c| {
            let mut q = alerts::table
                .filter(alerts::user_id.eq(user))
                .select(AlertRow::as_select())
                .order(alerts::id.desc())
                .limit(limit + 1)
                .into_boxed();
            if filter.unread_only {
                q = q.filter(alerts::read.eq(false));
            }
            if !filter.severities.is_empty() {
                q = q.filter(alerts::severity.eq_any(&filter.severities));
            }
            if let Some(before) = filter.before {
                q = q.filter(alerts::id.lt(before));
            }
            q.load(c)
        })?;
        Ok::<_, diesel::result::Error>((rows, count_unread(c, user)?))
    })?;
    Ok(page)
}

pub fn unread_count(conn: &mut AnyConnection, user: &str) -> Result<i64, StorageError> {
    Ok(count_unread(conn, user)?)
}

/// The user's unread alerts. SQLite keeps the count per user, in the
/// transaction of every change to it (`user_unread`, kept by triggers: see
/// its migration), so a count is one lookup and a stored alert dirties one
/// index page fewer; PostgreSQL counts the user's entries of its partial
/// unread index (docs/storage.md).
fn count_unread(conn: &mut AnyConnection, user: &str) -> QueryResult<i64> {
    match conn {
        AnyConnection::Sqlite(c) => user_unread::table
            .find(user)
            .select(user_unread::unread)
            .first(c)
            .optional()
            .map(Option::unwrap_or_default),
        AnyConnection::Postgresql(_) => count_unread_rows(conn, user),
    }
}

/// The user's unread rows, counted (on SQLite only the tests do, to check
/// the kept count against them).
fn count_unread_rows(conn: &mut AnyConnection, user: &str) -> QueryResult<i64> {
    on_backend!(conn, |c| alerts::table
        .filter(alerts::user_id.eq(user))
        .filter(alerts::read.eq(false))
        .count()
        .get_result(c))
}

/// Marks one of the user's alerts read; `None` when the user has no such
/// alert (another user's id looks exactly like an unknown one).
///
/// Two statements, each its own transaction: a `BEGIN` and a `COMMIT`
/// around them added two round trips and bought nothing — under READ
/// COMMITTED the count sees the update either way, and a count taken after
/// the commit is at least as fresh (a concurrent read of another alert is
/// in it). Without them, and without the pool's check-out (`storage::held`),
/// one node completed 3,395 / 3,406 reads a second against 2,956 / 2,982
/// (docs/capacity.md, "Seventeenth session"). Run twice (`Retry::Safe`),
/// it answers as once: the alert is read, and counted as such.
pub fn mark_read(
    conn: &mut AnyConnection,
    user: &str,
    alert_id: i64,
) -> Result<Option<(AlertRow, i64)>, StorageError> {
    let row = on_backend!(conn, |c| diesel::update(alerts::table)
        .filter(alerts::id.eq(alert_id))
        .filter(alerts::user_id.eq(user))
        .set(alerts::read.eq(true))
        .returning(AlertRow::as_returning())
        .get_result(c)
        .optional())?;
    match row {
        None => Ok(None),
        Some(row) => Ok(Some((row, count_unread(conn, user)?))),
    }
}

/// Marks every alert of the user read; returns how many changed.
pub fn mark_all_read(conn: &mut AnyConnection, user: &str) -> Result<usize, StorageError> {
    let n = on_backend!(conn, |c| diesel::update(alerts::table)
        .filter(alerts::user_id.eq(user))
        .filter(alerts::read.eq(false))
        .set(alerts::read.eq(true))
        .execute(c))?;
    Ok(n)
}

/// The alerts after `since`, oldest first, at most `max`; when more exist
/// the newest `max` are returned and the flag says the rest were skipped.
pub fn replay_since(
    conn: &mut AnyConnection,
    user: &str,
    since: i64,
    max: i64,
) -> Result<(Vec<AlertRow>, bool), StorageError> {
    let mut rows: Vec<AlertRow> = on_backend!(conn, |c| alerts::table
        .filter(alerts::user_id.eq(user))
        .filter(alerts::id.gt(since))
        .order(alerts::id.desc())
        .limit(max + 1)
        .select(AlertRow::as_select())
        .load(c))?;
    let truncated = rows.len() as i64 > max;
    rows.truncate(max as usize);
    rows.reverse();
    Ok((rows, truncated))
}

#[cfg(test)]
mod tests;
