//! Retention (contract §7): deleting read alerts older than the configured
//! age, one small step at a time, so that no statement holds the database
//! long enough to stall a trigger.
//!
//! A step walks the primary key: it reads at most `window` rows above a
//! cursor (a bounded range scan, no extra index) and deletes those that are
//! read and older than the cutoff. Ids grow with creation time, so the
//! first row newer than the cutoff ends a sweep; unread rows are skipped,
//! however old. Marking read is one-way and `created_at` never changes, so a
//! row chosen is still to be deleted when the delete runs; the delete checks
//! `read` again anyway.
//!
//! Ids are never reused after a delete: SQLite's table is `AUTOINCREMENT`
//! (the largest id ever given is kept in `sqlite_sequence`), PostgreSQL's
//! sequence only moves forward.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::connection::{AnyConnection, StorageError, on_backend};
use crate::models::schema::alerts;

/// What one step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeStep {
    /// Rows deleted.
    pub deleted: usize,
    /// The last id examined: the cursor of the next step (`None`: no row
    /// above the cursor).
    pub last_id: Option<i64>,
    /// A row newer than the cutoff was seen: later rows are newer still,
    /// so the sweep is over.
    pub reached_recent: bool,
}

/// Examines at most `window` alerts with ids above `after`, lowest first,
/// and deletes the read ones created before `cutoff`.
pub fn purge_step(
    conn: &mut AnyConnection,
    cutoff: NaiveDateTime,
    after: i64,
    window: i64,
) -> Result<PurgeStep, StorageError> {
    let rows: Vec<(i64, bool, NaiveDateTime)> = on_backend!(conn, |c| alerts::table
        .filter(alerts::id.gt(after))
        .order(alerts::id.asc())
        .limit(window)
        .select((alerts::id, alerts::read, alerts::created_at))
        .load(c))?;
    let doomed: Vec<i64> = rows
        .iter()
        .filter(|(_, read, created)| *read && *created < cutoff)
        .map(|(id, _, _)| *id)
        .collect();
    let deleted = if doomed.is_empty() {
        0
    } else {
        on_backend!(conn, |c| diesel::delete(
            alerts::table
                .filter(alerts::id.eq_any(&doomed))
                .filter(alerts::read.eq(true))
        )
        .execute(c))?
    };
    Ok(PurgeStep {
        deleted,
        last_id: rows.last().map(|(id, _, _)| *id),
        reached_recent: rows.iter().any(|(_, _, created)| *created >= cutoff),
    })
}
