//! What a node's users missed while their Redis shard was away, for the
//! catch-up when it returns (`actors::registry`): one call for hundreds of
//! users, planned so that each user costs one index range.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text, Timestamp};

use crate::models::AlertRow;
use crate::models::schema::{alerts, user_unread};
use crate::storage::connection::{AnyConnection, StorageError};

/// The alerts stored for any of `users` from `since` on, oldest first and
/// at most `per_user` each (`MISSED_ROWS` in all), and their unread counts
/// (a user missing from them has none unread): two statements for all of
/// them, where the hubs asked two each.
///
/// Each user's rows are one range of the `(user_id, id)` index, and each
/// count one of the unread index. Asked for a list of users at once,
/// PostgreSQL walked the primary key through the whole table for the rows
/// (`ORDER BY id LIMIT n`) and ran parallel scans of the whole table for
/// the counts (`GROUP BY user_id`) — its estimates for a list are no guide,
/// and the scans held both cores for seconds — so there each user is its
/// own range (`LATERAL`, a subquery). SQLite probes its index once per
/// listed user and keeps counts in `user_unread`; the order is made here.
pub fn missed_by(
    conn: &mut AnyConnection,
    users: &[String],
    since: chrono::NaiveDateTime,
    per_user: i64,
) -> Result<Missed, StorageError> {
    let (mut rows, counts): (Vec<AlertRow>, Vec<(String, i64)>) = match conn {
        AnyConnection::Sqlite(c) => (
            alerts::table
                .filter(alerts::user_id.eq_any(users))
                .filter(alerts::created_at.ge(since))
                .limit(MISSED_ROWS)
                .select(AlertRow::as_select())
                .load(c)?,
            user_unread::table
                .filter(user_unread::user_id.eq_any(users))
                .select((user_unread::user_id, user_unread::unread))
                .load(c)?,
        ),
        AnyConnection::Postgresql(c) => (
            diesel::sql_query(MISSED_PG)
                .bind::<Array<Text>, _>(users)
                .bind::<Timestamp, _>(since)
                .bind::<BigInt, _>(per_user)
                .bind::<BigInt, _>(MISSED_ROWS)
                .load(c)?,
            diesel::sql_query(UNREAD_PG)
                .bind::<Array<Text>, _>(users)
                .load::<UserCount>(c)?
                .into_iter()
                .map(|u| (u.user_id, u.n))
                .collect(),
        ),
    };
    rows.sort_unstable_by_key(|r| r.id);
    let mut by_user: HashMap<String, Vec<AlertRow>> = HashMap::new();
    for row in rows {
        let theirs = by_user.entry(row.user_id.clone()).or_default();
        if (theirs.len() as i64) < per_user {
            theirs.push(row);
        }
    }
    Ok(Missed {
        rows: by_user,
        counts: counts.into_iter().collect(),
    })
}

/// `missed_by`'s answer, by user.
#[derive(Debug, Default)]
pub struct Missed {
    rows: HashMap<String, Vec<AlertRow>>,
    counts: HashMap<String, i64>,
}

impl Missed {
    /// The user's missed alerts, oldest first.
    pub fn rows_of(&self, user: &str) -> &[AlertRow] {
        self.rows.get(user).map_or(&[], Vec::as_slice)
    }

    /// The user's unread count (0 if none is unread).
    pub fn count_of(&self, user: &str) -> i64 {
        self.counts.get(user).copied().unwrap_or(0)
    }

    /// Alerts found, for every user.
    pub fn len(&self) -> usize {
        self.rows.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// The most rows one `missed_by` returns, whatever the users: its memory
/// bound. Past it, sessions get the rest with their next replay.
const MISSED_ROWS: i64 = 20_000;

/// Every listed user's unread count (0 included), one range each of the
/// partial index `alerts_user_unread`.
const UNREAD_PG: &str = "SELECT u.user_id, (SELECT count(*) FROM alerts \
     WHERE alerts.user_id = u.user_id AND NOT alerts.read) AS n FROM unnest($1) AS u(user_id)";

#[derive(QueryableByName)]
struct UserCount {
    #[diesel(sql_type = diesel::sql_types::Text)]
    user_id: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

const MISSED_PG: &str = "SELECT a.id, a.user_id, a.breach_id, a.title, a.severity, \
     a.confidence, a.detected_at, a.description, a.source, a.read, a.created_at \
     FROM unnest($1) AS u(user_id) CROSS JOIN LATERAL ( \
     SELECT * FROM alerts WHERE alerts.user_id = u.user_id AND alerts.created_at >= $2 \
     ORDER BY alerts.id LIMIT $3) AS a LIMIT $4";

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;

    use super::super::tests::row_of;
    use super::*;
    use crate::storage::insert_alerts;

    #[test]
    fn what_users_missed_is_their_alerts_since_then_and_their_counts() {
        let mut conn = crate::storage::pool::in_memory_sqlite();
        let rows = ["1a", "1b", "2a", "3a"].map(|r| row_of(&r[..1], &r[1..]));
        let stored = insert_alerts(&mut conn, &rows).unwrap();
        // User 1's first alert predates the outage; user 3 is not asked for.
        conn.batch_execute(&format!(
            "UPDATE alerts SET created_at = '2020-01-01 00:00:00' WHERE id = {}",
            stored[0].0.id
        ))
        .unwrap();
        let since = chrono::NaiveDate::from_ymd_opt(2021, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap();
        let users = ["1".to_string(), "2".to_string(), "4".to_string()];
        let missed = missed_by(&mut conn, &users, since, 100).unwrap();
        let ids =
            |m: &Missed, user: &str| -> Vec<i64> { m.rows_of(user).iter().map(|r| r.id).collect() };
        assert_eq!(ids(&missed, "1"), [stored[1].0.id]);
        assert_eq!(ids(&missed, "2"), [stored[2].0.id]);
        assert_eq!((ids(&missed, "3"), ids(&missed, "4")), (vec![], vec![]));
        assert_eq!(missed.len(), 2);
        // Both of user 1's alerts are unread, the old one too; user 4 has none.
        let counts = ["1", "2", "4"].map(|u| missed.count_of(u));
        assert_eq!(counts, [2, 1, 0]);
        // At most `per_user` each, the oldest.
        conn.batch_execute(&format!(
            "UPDATE alerts SET created_at = '2022-01-01 00:00:00' WHERE id = {}",
            stored[0].0.id
        ))
        .unwrap();
        let oldest = missed_by(&mut conn, &users, since, 1).unwrap();
        assert_eq!(ids(&oldest, "1"), [stored[0].0.id]);
        assert_eq!(ids(&oldest, "2"), [stored[2].0.id]);
    }

    #[test]
    fn sqlite_finds_what_users_missed_through_the_user_index() {
        let details = crate::storage::pool::sqlite_query_plan(
            "SELECT id FROM alerts WHERE user_id IN ('1', '2', '3') \
             AND created_at >= '2026-01-01' LIMIT 20000",
        );
        assert!(
            details
                .iter()
                .any(|d| d.contains("USING INDEX alerts_user")),
            "{details:?}"
        );
    }
}
