//! Alerts in storage: the grouped insert of the trigger's hot path (with
//! per-user id order on PostgreSQL), telling a refused row from an
//! unavailable database, and the reads and read-state updates.

use diesel::prelude::*;

use super::connection::{AnyConnection, StorageError, on_backend};
use super::refusal::classify_insert_error;
use crate::models::schema::alerts;
use crate::models::{AlertRow, NewAlertRow};

/// The stored alert of a (user, breach) pair that was already there (a
/// macro rather than a function: it runs on either concrete connection).
macro_rules! existing_alert {
    ($c:expr, $row:expr) => {
        alerts::table
            .filter(alerts::user_id.eq(&$row.user_id))
            .filter(alerts::breach_id.eq(&$row.breach_id))
            .select(AlertRow::as_select())
            .first($c)
    };
}

/// Stores `rows` in multi-row INSERTs of `$chunk` rows, then answers per
/// input row: the first mention of a new pair created it; a repeat within
/// `rows`, or a pair stored before, did not (and is looked up). A macro so
/// that the same diesel expression runs on either concrete connection.
macro_rules! insert_grouped {
    ($c:expr, $rows:expr, $chunk:expr) => {{
        use std::collections::{HashMap, HashSet};
        let mut inserted: HashMap<(String, String), AlertRow> = HashMap::new();
        for chunk in $rows.chunks($chunk) {
            let stored: Vec<AlertRow> = diesel::insert_into(alerts::table)
                .values(chunk)
                .on_conflict((alerts::user_id, alerts::breach_id))
                .do_nothing()
                .returning(AlertRow::as_returning())
                .get_results($c)?;
            for row in stored {
                inserted.insert((row.user_id.clone(), row.breach_id.clone()), row);
            }
        }
        let mut claimed = HashSet::new();
        let mut out = Vec::with_capacity($rows.len());
        for row in $rows {
            let key = (row.user_id.clone(), row.breach_id.clone());
            out.push(match inserted.get(&key) {
                Some(stored) => (stored.clone(), claimed.insert(key)),
                None => (existing_alert!($c, row)?, false),
            });
        }
        Ok::<_, diesel::result::Error>(out)
    }};
}

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
            // 3,000 rows of 10 columns stay under SQLite's 32,766 variables.
            insert_grouped!(c, rows, 3000)
        }),
        AnyConnection::Postgresql(c) => c.transaction(|c| {
            lock_users(c, rows)?;
            // 5,000 rows of 10 columns stay under PostgreSQL's 65,535 bind parameters.
            insert_grouped!(c, rows, 5000)
        }),
    };
    result.map_err(|e| classify_insert_error(conn, e))
}

/// Ids are the replay cursor: on PostgreSQL one user's inserts must commit
/// in id order, so they queue on a per-user lock, taken for the whole group
/// in one statement and in sorted order so two groups cannot deadlock.
/// (SQLite has a single writer: the order holds by construction.)
fn lock_users(c: &mut diesel::PgConnection, rows: &[NewAlertRow]) -> QueryResult<usize> {
    let mut users: Vec<&str> = rows.iter().map(|r| r.user_id.as_str()).collect();
    users.sort_unstable();
    users.dedup();
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext(u)) FROM (SELECT unnest($1::text[]) AS u ORDER BY 1) s")
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(users)
        .execute(c)
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
    let page = on_backend!(conn, |c| c.transaction(|c| {
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
        let rows = q.load(c)?;
        let unread = alerts::table
            .filter(alerts::user_id.eq(user))
            .filter(alerts::read.eq(false))
            .count()
            .get_result(c)?;
        Ok::<_, diesel::result::Error>((rows, unread))
    }))?;
    Ok(page)
}

pub fn unread_count(conn: &mut AnyConnection, user: &str) -> Result<i64, StorageError> {
    let n = on_backend!(conn, |c| alerts::table
        .filter(alerts::user_id.eq(user))
        .filter(alerts::read.eq(false))
        .count()
        .get_result(c))?;
    Ok(n)
}

/// Marks one of the user's alerts read; `None` when the user has no such
/// alert (another user's id looks exactly like an unknown one).
pub fn mark_read(
    conn: &mut AnyConnection,
    user: &str,
    alert_id: i64,
) -> Result<Option<(AlertRow, i64)>, StorageError> {
    let result = on_backend!(conn, |c| c.transaction(|c| {
        let row = diesel::update(alerts::table)
            .filter(alerts::id.eq(alert_id))
            .filter(alerts::user_id.eq(user))
            .set(alerts::read.eq(true))
            .returning(AlertRow::as_returning())
            .get_result(c)
            .optional()?;
        match row {
            None => Ok(None),
            Some(row) => {
                let count = alerts::table
                    .filter(alerts::user_id.eq(user))
                    .filter(alerts::read.eq(false))
                    .count()
                    .get_result(c)?;
                Ok::<_, diesel::result::Error>(Some((row, count)))
            }
        }
    }))?;
    Ok(result)
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

/// A user's alerts stored at or after `since`, oldest first, at most `max`:
/// what a node may have missed while it could not hear other nodes.
pub fn alerts_created_since(
    conn: &mut AnyConnection,
    user: &str,
    since: chrono::NaiveDateTime,
    max: i64,
) -> Result<Vec<AlertRow>, StorageError> {
    let rows = on_backend!(conn, |c| alerts::table
        .filter(alerts::user_id.eq(user))
        .filter(alerts::created_at.ge(since))
        .order(alerts::id.asc())
        .limit(max)
        .select(AlertRow::as_select())
        .load(c))?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::pool::SQLITE_MIGRATIONS;
    use diesel::connection::SimpleConnection;
    use diesel_migrations::MigrationHarness;

    #[test]
    fn sqlite_stores_a_group_in_one_multi_row_statement() {
        use std::sync::{Arc, Mutex};
        // With a DEFAULT among the values diesel would silently fall back to
        // one INSERT per row; count the INSERTs SQLite actually runs.
        let mut c = diesel::SqliteConnection::establish(":memory:").unwrap();
        c.run_pending_migrations(SQLITE_MIGRATIONS).unwrap();
        let inserts = Arc::new(Mutex::new(0));
        let seen = inserts.clone();
        c.set_instrumentation(move |event: diesel::connection::InstrumentationEvent<'_>| {
            if let diesel::connection::InstrumentationEvent::StartQuery { query, .. } = event
                && query.to_string().starts_with("INSERT")
            {
                *seen.lock().unwrap() += 1;
            }
        });
        let now = chrono::Utc::now().naive_utc();
        let row = |b: &str| NewAlertRow {
            user_id: "1".into(),
            breach_id: b.into(),
            title: "t".into(),
            severity: "LOW".into(),
            confidence: 0.5,
            detected_at: now,
            description: None,
            source: None,
            read: false,
            created_at: now,
            push_due_at: None,
        };
        let mut conn = AnyConnection::Sqlite(c);
        let stored = insert_alerts(&mut conn, &[row("a"), row("b"), row("a")]).unwrap();
        assert_eq!(*inserts.lock().unwrap(), 1);
        let created: Vec<bool> = stored.iter().map(|(_, created)| *created).collect();
        assert_eq!(created, [true, true, false]);
        assert_eq!(stored[0].0.id, stored[2].0.id);
        assert!(stored[0].0.id < stored[1].0.id);
        assert_eq!(stored[0].0.description, None);
    }

    #[test]
    fn a_filtered_page_walks_the_user_index_without_sorting() {
        // The list's SQL shape (severity filter, unread, cursor, newest
        // first): SQLite must walk (user_id, id) backwards, not scan or sort.
        #[derive(QueryableByName)]
        struct Plan {
            #[diesel(sql_type = diesel::sql_types::Text)]
            detail: String,
        }
        let AnyConnection::Sqlite(mut c) = crate::storage::pool::in_memory_sqlite() else {
            unreachable!()
        };
        let plan: Vec<Plan> = diesel::sql_query(
            "EXPLAIN QUERY PLAN SELECT id FROM alerts WHERE user_id = '1' AND read = 0 \
             AND severity IN ('HIGH', 'CRITICAL') AND id < 100 ORDER BY id DESC LIMIT 51",
        )
        .load(&mut c)
        .unwrap();
        let details: Vec<&str> = plan.iter().map(|p| p.detail.as_str()).collect();
        assert!(
            details
                .iter()
                .any(|d| d.contains("USING INDEX alerts_user")),
            "{details:?}"
        );
        assert!(
            !details.iter().any(|d| d.contains("TEMP B-TREE")),
            "{details:?}"
        );
    }

    fn sqlite_with(sql: &str) -> AnyConnection {
        let mut conn = crate::storage::pool::in_memory_sqlite();
        conn.batch_execute(sql).unwrap();
        conn
    }

    fn plain_row(breach: &str) -> NewAlertRow {
        let now = chrono::Utc::now().naive_utc();
        NewAlertRow {
            user_id: "1".into(),
            breach_id: breach.into(),
            title: "t".into(),
            severity: "LOW".into(),
            confidence: 0.5,
            detected_at: now,
            description: None,
            source: None,
            read: false,
            created_at: now,
            push_due_at: None,
        }
    }

    #[test]
    fn a_row_the_database_refuses_is_a_refusal_and_its_group_stores_nothing() {
        // A trigger's RAISE is an error diesel does not classify, like
        // PostgreSQL's data exceptions: the probe settles it.
        let mut conn = sqlite_with(
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON alerts \
             WHEN NEW.breach_id = 'POISON' BEGIN SELECT RAISE(ABORT, 'poison'); END;",
        );
        let e = insert_alerts(&mut conn, &[plain_row("a"), plain_row("POISON")]).unwrap_err();
        assert!(e.is_refusal(), "{e}");
        assert!(e.duplicate().is_refusal());
        assert_eq!(unread_count(&mut conn, "1").unwrap(), 0);
        // The probe left nothing behind, and good rows still go in.
        assert_eq!(
            insert_alerts(&mut conn, &[plain_row("a")]).unwrap().len(),
            1
        );
        assert_eq!(unread_count(&mut conn, "_alerthub_probe").unwrap(), 0);
    }

    #[test]
    fn a_database_that_takes_no_row_at_all_is_unavailable_not_a_refusal() {
        let mut conn = sqlite_with(
            "CREATE TRIGGER refuse_all BEFORE INSERT ON alerts \
             BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
        );
        let e = insert_alerts(&mut conn, &[plain_row("a")]).unwrap_err();
        assert!(!e.is_refusal(), "{e}");
        assert!(!e.duplicate().is_refusal());
    }
}
