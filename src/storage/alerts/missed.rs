//! What a node's users missed while their Redis shard was away, for the
//! catch-up when it returns (`actors::registry`): one call for hundreds of
//! users, planned so that each user costs one index range.

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
) -> Result<MissedRows, StorageError> {
    let (mut rows, counts): (Vec<AlertRow>, _) = match conn {
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
    let mut kept: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    rows.retain(|r| {
        let n = kept.entry(r.user_id.clone()).or_default();
        *n += 1;
        *n <= per_user
    });
    Ok(MissedRows { rows, counts })
}

/// `missed_by`'s answer: the rows, oldest first, and (user, unread count).
pub struct MissedRows {
    pub rows: Vec<AlertRow>,
    pub counts: Vec<(String, i64)>,
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
        let MissedRows { rows, mut counts } = missed_by(&mut conn, &users, since, 100).unwrap();
        let ids: Vec<(String, i64)> = rows.iter().map(|r| (r.user_id.clone(), r.id)).collect();
        assert_eq!(
            ids,
            [
                ("1".to_string(), stored[1].0.id),
                ("2".to_string(), stored[2].0.id)
            ]
        );
        counts.sort();
        // Both of user 1's alerts are unread, the old one too; user 4 has none.
        assert_eq!(counts, [("1".to_string(), 2), ("2".to_string(), 1)]);
        // At most `per_user` each, the oldest.
        conn.batch_execute(&format!(
            "UPDATE alerts SET created_at = '2022-01-01 00:00:00' WHERE id = {}",
            stored[0].0.id
        ))
        .unwrap();
        let oldest: Vec<i64> = missed_by(&mut conn, &users, since, 1)
            .unwrap()
            .rows
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(oldest, [stored[0].0.id, stored[2].0.id]);
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
