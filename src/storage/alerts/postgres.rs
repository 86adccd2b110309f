//! The grouped insert's two statements on PostgreSQL, written so that
//! diesel keeps them prepared: each connection parses and plans them once.
//!
//! Why: diesel never caches a `sql_query`, nor a multi-row VALUES (a new
//! statement for every group size), so both were parsed and planned on
//! every commit — about a quarter of PostgreSQL's profile samples in the
//! cluster benchmark, where most groups hold one alert (docs/capacity.md).
//! Here each statement is a type of its own with a static query id
//! (diesel's cache key) and a text that never changes: the rows go in one
//! array per column, whatever the group's size (and so without chunks).

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, Bool, Double, Nullable, Text, Timestamp, Untyped};
use diesel::{PgConnection, QueryResult, RunQueryDsl};

use crate::models::{AlertRow, NewAlertRow};

/// Ids are the replay cursor: one user's inserts must commit in id order,
/// so they queue on a per-user lock, taken for the whole group in one
/// statement and in sorted order so two groups cannot deadlock. (SQLite has
/// a single writer: the order holds by construction.)
pub fn lock_users(c: &mut PgConnection, rows: &[NewAlertRow]) -> QueryResult<usize> {
    let mut users: Vec<&str> = rows.iter().map(|r| r.user_id.as_str()).collect();
    users.sort_unstable();
    users.dedup();
    UserLocks(users).execute(c)
}

/// Stores the group (`ON CONFLICT DO NOTHING`); answers the rows it created,
/// with ids in the group's order.
pub fn insert(c: &mut PgConnection, rows: &[NewAlertRow]) -> QueryResult<Vec<AlertRow>> {
    Columns::of(rows).load(c)
}

struct UserLocks<'a>(Vec<&'a str>);

impl QueryFragment<Pg> for UserLocks<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT pg_advisory_xact_lock(hashtext(u)) FROM (SELECT unnest(");
        out.push_bind_param::<Array<Text>, _>(&self.0)?;
        out.push_sql(") AS u ORDER BY 1) s");
        Ok(())
    }
}

impl QueryId for UserLocks<'_> {
    type QueryId = UserLocks<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl RunQueryDsl<PgConnection> for UserLocks<'_> {}

/// `NewAlertRow`'s fields, one array each (the column list is compared with
/// diesel's own INSERT by a test).
struct Columns<'a> {
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

/// The columns `Columns` fills, in its order.
pub const INSERTED: &str = "user_id, breach_id, title, severity, confidence, detected_at, \
     description, source, read, created_at, push_due_at";

impl<'a> Columns<'a> {
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

impl QueryFragment<Pg> for Columns<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("INSERT INTO alerts (");
        out.push_sql(INSERTED);
        out.push_sql(") SELECT ");
        out.push_sql(INSERTED);
        out.push_sql(" FROM unnest(");
        out.push_bind_param::<Array<Text>, _>(&self.user_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.breach_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.title)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.severity)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Double>, _>(&self.confidence)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Timestamp>, _>(&self.detected_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.description)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.source)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Bool>, _>(&self.read)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Timestamp>, _>(&self.created_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Timestamp>>, _>(&self.push_due_at)?;
        out.push_sql(") WITH ORDINALITY AS v(");
        out.push_sql(INSERTED);
        out.push_sql(
            ", n) ORDER BY n ON CONFLICT (user_id, breach_id) DO NOTHING \
             RETURNING id, user_id, breach_id, title, severity, confidence, detected_at, \
             description, source, read, created_at",
        );
        Ok(())
    }
}

impl QueryId for Columns<'_> {
    type QueryId = Columns<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for Columns<'_> {
    type SqlType = Untyped;
}

impl RunQueryDsl<PgConnection> for Columns<'_> {}
