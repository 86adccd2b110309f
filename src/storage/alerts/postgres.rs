//! The grouped insert on PostgreSQL: one prepared statement, outside an
//! explicit transaction, that takes the group's user locks, stores the new
//! pairs and answers the ones already there — one round trip per commit.
//!
//! Why one statement: as four (BEGIN, lock, insert, COMMIT) every group
//! woke the database's backend and the storage thread four times, and in
//! the cluster benchmark most groups hold one alert (docs/capacity.md).
//! Why prepared: diesel never caches a `sql_query`, nor a multi-row VALUES,
//! so the text never changes (the rows go in one array per column) and the
//! type has a static query id (diesel's cache key): each connection parses
//! and plans it once.
//!
//! Ids are the replay cursor: one user's inserts must commit in id order,
//! so they queue on a per-user lock (`pg_advisory_xact_lock`, taken in
//! sorted order so two groups cannot deadlock; SQLite has a single writer
//! and keeps the order by construction). The lock is an `InitPlan` the
//! insert's rows are filtered by, so it is held before the first row —
//! and its id from the sequence — exists (a test holds the lock and
//! watches the sequence). A pair stored by a transaction that committed
//! while this one waited for its lock is neither inserted nor visible to
//! the statement's snapshot: the statement then aborts itself
//! (`alerthub_insert_raced()`, SQLSTATE 40001, nothing of it stays) and
//! runs again, with a snapshot that sees the pair.
//!
//! A group of one alert — most groups of a steady trickle over several
//! nodes (docs/capacity.md: 1.1 alerts a commit) — first tries a plain
//! one-row `INSERT … ON CONFLICT DO NOTHING` behind the same lock: its plan
//! is far cheaper to start than the arrays' (`pgbench`: 0.17 against
//! 0.22 ms a statement without the fsync). A pair already stored inserts
//! nothing there, commits nothing, and goes on to the grouped statement,
//! which answers it (or runs again after a race).

use std::sync::LazyLock;

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::{DatabaseErrorKind, Error};
use diesel::sql_types::{Array, Bool, Double, Nullable, Text, Timestamp, Untyped};
use diesel::{PgConnection, QueryResult, QueryableByName, RunQueryDsl};

use crate::models::{AlertRow, NewAlertRow};

/// How often a group runs again after losing a race for one of its pairs;
/// each run sees every pair committed before it started, so a second run
/// loses only to yet another new pair of the same group.
const RUNS: usize = 3;

/// Stores the group and answers per input row: the first mention of a new
/// pair created it; a repeat within `rows`, or a pair stored before, did
/// not (the stored row is answered). Ids of new rows in the group's order.
pub fn store(c: &mut PgConnection, rows: &[NewAlertRow]) -> QueryResult<Vec<(AlertRow, bool)>> {
    if let [row] = rows
        && let Some(created) = One(row).load::<AlertRow>(c)?.pop()
    {
        return Ok(vec![(created, true)]);
    }
    // A pair stored before (or by a transaction that won the lock): the
    // grouped statement answers it, and runs again after a race.
    let mut run = 1;
    let answered = loop {
        match Group::of(rows).load::<Answer>(c) {
            Err(Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _)) if run < RUNS => {
                run += 1
            }
            result => break result?,
        }
    };
    let answered = answered.into_iter().map(|a| (a.alert, a.created)).collect();
    // Every pair is answered, or the statement raised: a missing one would
    // be a bug in the statement, not in the request.
    super::answers::answer_per_row(rows, answered, |_| Err(Error::NotFound))
}

/// One row of the statement's answer: a stored alert, and whether this
/// statement created it.
#[derive(QueryableByName)]
struct Answer {
    #[diesel(embed)]
    alert: AlertRow,
    #[diesel(sql_type = Bool)]
    created: bool,
}

/// The columns the rows fill, in the order both statements bind them
/// (`each_inserted_column!`; compared with diesel's own INSERT by a test).
pub const INSERTED: &str = "user_id, breach_id, title, severity, confidence, detected_at, \
     description, source, read, created_at, push_due_at";

/// Calls `$bind!(separator, field, SQL type)` for each column of
/// `INSERTED`, in its order: the one-row statement binds `NewAlertRow`'s
/// field as a value, the grouped one `Group`'s field of the same name as an
/// array — one list, so the two cannot bind in different orders.
macro_rules! each_inserted_column {
    ($bind:ident) => {
        $bind!("", user_id, Text);
        $bind!(", ", breach_id, Text);
        $bind!(", ", title, Text);
        $bind!(", ", severity, Text);
        $bind!(", ", confidence, Double);
        $bind!(", ", detected_at, Timestamp);
        $bind!(", ", description, Nullable<Text>);
        $bind!(", ", source, Nullable<Text>);
        $bind!(", ", read, Bool);
        $bind!(", ", created_at, Timestamp);
        $bind!(", ", push_due_at, Nullable<Timestamp>);
    };
}

/// The columns answered: `AlertRow`'s fields, by name (compared with
/// diesel's by a test).
pub const ANSWERED: [&str; 11] = [
    "id",
    "user_id",
    "breach_id",
    "title",
    "severity",
    "confidence",
    "detected_at",
    "description",
    "source",
    "read",
    "created_at",
];

/// Everything after the eleven arrays: `v` is the group with its order
/// `n`; `ins` locks the group's users, then inserts; the answer is the
/// inserted rows, then for every other row of `v` the stored pair — or the
/// statement's abort when that pair is invisible to it. That second part
/// runs only when some row was not inserted (a one-time filter): in the
/// common group, all new, it would probe the table once per row.
static AFTER_ROWS: LazyLock<String> = LazyLock::new(|| {
    let answered = ANSWERED.join(", ");
    let stored = ANSWERED.map(|c| format!("a.{c}")).join(", ");
    format!(
        ") WITH ORDINALITY AS v({INSERTED}, n)), \
         ins AS (INSERT INTO alerts ({INSERTED}) SELECT {INSERTED} FROM v \
           WHERE (SELECT count(pg_advisory_xact_lock(hashtext(u))) \
                  FROM (SELECT DISTINCT user_id AS u FROM v ORDER BY 1) s) >= 0 \
           ORDER BY n ON CONFLICT (user_id, breach_id) DO NOTHING RETURNING {answered}) \
         SELECT {answered}, true AS created FROM ins \
         UNION ALL \
         SELECT {stored}, false FROM v \
           LEFT JOIN ins i ON i.user_id = v.user_id AND i.breach_id = v.breach_id \
           LEFT JOIN alerts a ON a.user_id = v.user_id AND a.breach_id = v.breach_id \
           WHERE (SELECT count(*) FROM ins) < (SELECT count(*) FROM v) \
             AND CASE WHEN i.id IS NOT NULL THEN false \
                      WHEN a.id IS NOT NULL THEN true \
                      ELSE alerthub_insert_raced() END"
    )
});

/// The one-row statement: the user's lock (a CTE the row is selected
/// from, so it is held before the row — and its id — exists), then the
/// insert; answers the row if it created it, nothing otherwise.
struct One<'a>(&'a NewAlertRow);

/// After the lock's user id, up to the row's values.
static ONE_INSERT: LazyLock<String> =
    LazyLock::new(|| format!("))) INSERT INTO alerts ({INSERTED}) SELECT "));

/// After the row's values.
static ONE_AFTER: LazyLock<String> = LazyLock::new(|| {
    format!(
        " FROM l ON CONFLICT (user_id, breach_id) DO NOTHING RETURNING {}",
        ANSWERED.join(", ")
    )
});

impl QueryFragment<Pg> for One<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let r = self.0;
        out.push_sql("WITH l AS MATERIALIZED (SELECT pg_advisory_xact_lock(hashtext(");
        out.push_bind_param::<Text, _>(&r.user_id)?;
        out.push_sql(&ONE_INSERT);
        macro_rules! bind {
            ($sep:literal, $field:ident, $ty:ty) => {
                out.push_sql($sep);
                out.push_bind_param::<$ty, _>(&r.$field)?;
            };
        }
        each_inserted_column!(bind);
        out.push_sql(&ONE_AFTER);
        Ok(())
    }
}

impl QueryId for One<'_> {
    type QueryId = One<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for One<'_> {
    type SqlType = Untyped;
}

impl RunQueryDsl<PgConnection> for One<'_> {}

/// `NewAlertRow`'s fields, one array each.
struct Group<'a> {
    user_id: Vec<&'a str>,
    breach_id: Vec<&'a str>,
    title: Vec<&'a str>,
    severity: Vec<&'a str>,
    confidence: Vec<f64>,
    detected_at: Vec<NaiveDateTime>,
    description: Vec<Option<&'a str>>,
    source: Vec<Option<&'a str>>,
    read: Vec<bool>,
    created_at: Vec<NaiveDateTime>,
    push_due_at: Vec<Option<NaiveDateTime>>,
}

impl<'a> Group<'a> {
    fn of(rows: &'a [NewAlertRow]) -> Self {
        fn column<'a, T>(rows: &'a [NewAlertRow], f: impl Fn(&'a NewAlertRow) -> T) -> Vec<T> {
            rows.iter().map(f).collect()
        }
        Self {
            user_id: column(rows, |r| r.user_id.as_str()),
            breach_id: column(rows, |r| r.breach_id.as_str()),
            title: column(rows, |r| r.title.as_str()),
            severity: column(rows, |r| r.severity.as_str()),
            confidence: column(rows, |r| r.confidence),
            detected_at: column(rows, |r| r.detected_at),
            description: column(rows, |r| r.description.as_deref()),
            source: column(rows, |r| r.source.as_deref()),
            read: column(rows, |r| r.read),
            created_at: column(rows, |r| r.created_at),
            push_due_at: column(rows, |r| r.push_due_at),
        }
    }
}

impl QueryFragment<Pg> for Group<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH v AS MATERIALIZED (SELECT * FROM unnest(");
        macro_rules! bind {
            ($sep:literal, $field:ident, $ty:ty) => {
                out.push_sql($sep);
                out.push_bind_param::<Array<$ty>, _>(&self.$field)?;
            };
        }
        each_inserted_column!(bind);
        out.push_sql(&AFTER_ROWS);
        Ok(())
    }
}

impl QueryId for Group<'_> {
    type QueryId = Group<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for Group<'_> {
    type SqlType = Untyped;
}

impl RunQueryDsl<PgConnection> for Group<'_> {}
