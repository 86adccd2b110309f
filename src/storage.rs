//! Storage: one code path for SQLite and PostgreSQL.
//!
//! The pool hands out `AnyConnection`, diesel's `MultiConnection` over both
//! backends, so the server, the CLI and the tests share one type. Queries
//! that read or update are written once; the two places where SQL really
//! differs — opening a write transaction and serialising one user's inserts —
//! are spelled out per backend with `on_backend!`, which expands the same
//! diesel expression for each concrete connection. We pick the backend from
//! the URL scheme ourselves rather than through `MultiConnection::establish`,
//! whose error hides the real cause from operators.
//!
//! Everything here is blocking; the `DbActor` runs it on its own threads.

use std::time::Duration;

use chrono::Utc;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::models::schema::{alerts, api_tokens, settings};
use crate::models::{AlertRow, NewAlertRow};
use crate::tokens::{self, TokenKey};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// Runs the same diesel expression on whichever backend `conn` is.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            AnyConnection::Sqlite($c) => $body,
            AnyConnection::Postgresql($c) => $body,
        }
    };
}

/// What went wrong with storage. Two kinds matter to callers, and
/// `is_refusal` tells them apart: the database *refused* the data
/// (`Refused`: the same request will fail again, so it is the request's
/// fault and must not take others down with it), or storage is
/// *unavailable* (every other variant once the server runs: no connection in
/// time, a lost connection, a query that failed for a reason outside the
/// data; the same request may well succeed later).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{0}")]
    BadUrl(String),
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("no database connection available: {0}")]
    Pool(#[from] r2d2::PoolError),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("the database refused the data: {0}")]
    Refused(String),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("the setting {0} in the database is not valid: {1}")]
    BadSetting(&'static str, &'static str),
}

impl StorageError {
    /// The database answered and refused this data: retrying the same
    /// request cannot succeed. Anything else means storage is unavailable.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Refused(_))
    }

    /// The same failure again, for each of several waiting callers (the
    /// error itself is not `Clone`: it may hold a diesel or pool error).
    pub fn duplicate(&self) -> Self {
        match self {
            Self::Refused(why) => Self::Refused(why.clone()),
            other => Self::Unavailable(other.to_string()),
        }
    }
}

/// How sure the kind of a failed write makes us about whose fault it was.
enum Verdict {
    /// A constraint or a value the database will never take.
    Refused,
    /// The connection, the transaction machinery or the server's state.
    Unavailable,
    /// An error diesel does not classify. On PostgreSQL that covers data
    /// exceptions (SQLSTATE class 22, e.g. a NUL in text) but also a full
    /// disk or a statement timeout; on SQLite, a trigger's `RAISE` but also
    /// `SQLITE_BUSY`. Settled by `stores_a_plain_alert`.
    Unsure,
}

fn verdict(e: &diesel::result::Error) -> Verdict {
    use diesel::result::{DatabaseErrorKind as Kind, Error};
    match e {
        Error::DatabaseError(
            Kind::UniqueViolation
            | Kind::ForeignKeyViolation
            | Kind::NotNullViolation
            | Kind::CheckViolation
            | Kind::ExclusionViolation
            | Kind::RestrictViolation,
            _,
        ) => Verdict::Refused,
        Error::DatabaseError(
            Kind::ClosedConnection
            | Kind::UnableToSendCommand
            | Kind::SerializationFailure
            | Kind::ReadOnlyTransaction,
            _,
        ) => Verdict::Unavailable,
        Error::DatabaseError(_, _) => Verdict::Unsure,
        // A value diesel itself could not encode for the database.
        Error::SerializationError(_) => Verdict::Refused,
        _ => Verdict::Unavailable,
    }
}

/// Whether the database stores an ordinary alert right now, in a
/// transaction that is rolled back: if it does, an unclassified error on
/// the alerts just tried was about their data; if it does not (disk full,
/// locked, gone), storage is unavailable and nobody's alert is at fault.
/// Runs only after a failed insert, never on the hot path.
fn stores_a_plain_alert(conn: &mut AnyConnection) -> bool {
    use diesel::result::Error;
    let now = Utc::now().naive_utc();
    let probe = NewAlertRow {
        user_id: "_alerthub_probe".into(),
        breach_id: "_alerthub_probe".into(),
        title: "probe".into(),
        severity: "LOW".into(),
        confidence: 0.0,
        detected_at: now,
        description: None,
        source: None,
        read: false,
        created_at: now,
    };
    let result: QueryResult<()> = on_backend!(conn, |c| c.transaction(|c| {
        diesel::insert_into(alerts::table)
            .values(&probe)
            .on_conflict((alerts::user_id, alerts::breach_id))
            .do_nothing()
            .execute(c)?;
        Err(Error::RollbackTransaction)
    }));
    matches!(result, Err(Error::RollbackTransaction))
}

/// Types a failed insert of alerts as refused or unavailable.
fn classify_insert_error(conn: &mut AnyConnection, e: diesel::result::Error) -> StorageError {
    match verdict(&e) {
        Verdict::Refused => StorageError::Refused(e.to_string()),
        Verdict::Unsure if stores_a_plain_alert(conn) => StorageError::Refused(e.to_string()),
        Verdict::Unsure | Verdict::Unavailable => StorageError::Query(e),
    }
}

pub type DbPool = Pool<Manager>;
pub type DbConn = PooledConnection<Manager>;

/// Where the data lives, parsed from `DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(String),
    Postgres(String),
}

impl DatabaseUrl {
    /// `sqlite://PATH`, a bare path, or `postgres://…` / `postgresql://…`.
    pub fn parse(raw: &str) -> Result<Self, StorageError> {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self::Postgres(raw.to_owned()));
        }
        let path = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
            .unwrap_or(raw);
        if path.is_empty() || path.contains("://") {
            return Err(StorageError::BadUrl(format!(
                "DATABASE_URL {raw:?} is neither sqlite://PATH, a file path, nor postgres://…"
            )));
        }
        Ok(Self::Sqlite(path.to_owned()))
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, Self::Sqlite(_))
    }

    /// The URL with any password hidden, for logs.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{path}"),
            Self::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(s), Some(at)) if at > s => {
                    let creds = &url[s + 3..at];
                    let user = creds.split(':').next().unwrap_or("");
                    format!("{}{}:***{}", &url[..s + 3], user, &url[at..])
                }
                _ => url.clone(),
            },
        }
    }
}

/// The same PostgreSQL URL naming another database (query string kept):
/// how the benchmark and the tests point at a database they created.
pub fn postgres_url_with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let host_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[host_start..]
        .find('/')
        .map_or(base.len(), |i| host_start + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Opens connections of the configured backend and tunes SQLite on open.
#[derive(Debug, Clone)]
pub struct Manager {
    url: DatabaseUrl,
    /// Held by every copy of the manager (the pool's): the SQLite
    /// checkpoint thread ends when the last one is gone.
    alive: std::sync::Arc<()>,
    /// Counts the statements run on pooled connections, if given.
    queries: Option<prometheus::IntCounter>,
}

impl Manager {
    /// A connection, tuned, not yet counted.
    fn open(&self) -> Result<AnyConnection, StorageError> {
        let connect_error = |e: ConnectionError| StorageError::Connect(e.to_string());
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                let mut c = diesel::SqliteConnection::establish(path).map_err(connect_error)?;
                // WAL lets readers run beside the writer; FULL keeps a commit on
                // disk before we answer 201; busy_timeout makes the CLI and the
                // server wait for each other instead of failing.
                // busy_timeout first: switching to WAL itself needs a lock
                // that another process (the CLI, a second node) may hold.
                // A 16 MiB page cache per connection keeps the hot indexes in
                // memory. The WAL is checkpointed by a thread of its own (see
                // `connect`); the automatic checkpoint, which runs inside a
                // commit and so on the trigger's path, is only a backstop.
                c.batch_execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                     PRAGMA cache_size = -16384; PRAGMA wal_autocheckpoint = 10000;",
                )?;
                Ok(AnyConnection::Sqlite(c))
            }
            DatabaseUrl::Postgres(url) => diesel::PgConnection::establish(url)
                .map(AnyConnection::Postgresql)
                .map_err(connect_error),
        }
    }
}

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = StorageError;

    /// Every statement the connection runs from now on (queries, `BEGIN`
    /// and `COMMIT`, the pool's `SELECT 1` check) counts in `queries`: that
    /// is `alerthub_db_queries_total`, which shows operators — and proves in
    /// tests — how hard the database is driven.
    fn connect(&self) -> Result<AnyConnection, StorageError> {
        let mut conn = self.open()?;
        if let Some(queries) = self.queries.clone() {
            conn.set_instrumentation(move |event: diesel::connection::InstrumentationEvent<'_>| {
                if matches!(
                    event,
                    diesel::connection::InstrumentationEvent::StartQuery { .. }
                ) {
                    queries.inc();
                }
            });
        }
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), StorageError> {
        conn.batch_execute("SELECT 1").map_err(Into::into)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        on_backend!(conn, |c| diesel::r2d2::R2D2Connection::is_broken(c))
    }
}

/// Pool sizing and patience, from configuration.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: u32,
    pub connect_timeout: Duration,
}

/// Connects once (so a bad URL or a down server is reported with its real
/// cause), applies migrations, then builds the pool.
pub fn connect(url: &DatabaseUrl, options: &PoolOptions) -> Result<DbPool, StorageError> {
    build_pool(url, options, None)
}

/// `connect`, counting every statement run on the pool's connections in
/// `queries` (the SQLite checkpoint thread's own connection is not counted).
pub fn connect_counted(
    url: &DatabaseUrl,
    options: &PoolOptions,
    queries: prometheus::IntCounter,
) -> Result<DbPool, StorageError> {
    build_pool(url, options, Some(queries))
}

fn build_pool(
    url: &DatabaseUrl,
    options: &PoolOptions,
    queries: Option<prometheus::IntCounter>,
) -> Result<DbPool, StorageError> {
    let manager = Manager {
        url: url.clone(),
        alive: std::sync::Arc::default(),
        queries,
    };
    let mut first = manager.open()?;
    migrate(&mut first)?;
    if url.is_sqlite() {
        spawn_checkpointer(first, std::sync::Arc::downgrade(&manager.alive));
    }
    Ok(Pool::builder()
        .max_size(options.max_size)
        .min_idle(Some(0))
        .connection_timeout(options.connect_timeout)
        // A PostgreSQL restart leaves pooled connections dead without
        // diesel noticing; a `SELECT 1` on check-out finds them so the pool
        // reconnects on its own. A SQLite file cannot go away like that.
        .test_on_check_out(!url.is_sqlite())
        .build_unchecked(manager))
}

/// Moves committed pages from the WAL into the database file every 250 ms,
/// off the commit path (measured in docs/BENCHMARKS.md: it halves the
/// trigger's tail latency). PASSIVE never blocks writers or readers.
fn spawn_checkpointer(mut conn: AnyConnection, alive: std::sync::Weak<()>) {
    let spawned = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while alive.upgrade().is_some() {
                std::thread::sleep(Duration::from_millis(250));
                if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                    log::warn!("WAL checkpoint failed: {e}");
                }
            }
        });
    if let Err(e) = spawned {
        log::warn!("no WAL checkpoint thread ({e}); SQLite checkpoints inside commits instead");
    }
}

pub fn migrate(conn: &mut AnyConnection) -> Result<(), StorageError> {
    let result = match conn {
        AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
        AnyConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ()),
    };
    result.map_err(|e| StorageError::Migration(e.to_string()))
}

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

/// One page of a user's alerts, newest first. Returns up to `limit + 1`
/// rows so the caller can tell whether another page exists.
pub fn list_alerts(
    conn: &mut AnyConnection,
    user: &str,
    unread_only: bool,
    limit: i64,
    before: Option<i64>,
) -> Result<Vec<AlertRow>, StorageError> {
    let rows = on_backend!(conn, |c| {
        let mut q = alerts::table
            .filter(alerts::user_id.eq(user))
            .select(AlertRow::as_select())
            .order(alerts::id.desc())
            .limit(limit + 1)
            .into_boxed();
        if unread_only {
            q = q.filter(alerts::read.eq(false));
        }
        if let Some(before) = before {
            q = q.filter(alerts::id.lt(before));
        }
        q.load(c)
    })?;
    Ok(rows)
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

/// The settings key of the opaque tokens' tag key (see `tokens`).
const TOKEN_KEY_SETTING: &str = "opaque_token_key";

/// The key that tags opaque tokens: generated by the first process that
/// needs it and kept in the settings table, so every node and the CLI use
/// the same one. Deleting that row makes every opaque token issued so far
/// unusable (their tags no longer verify).
pub fn token_key(conn: &mut AnyConnection) -> Result<TokenKey, StorageError> {
    let stored = setting_or_insert(conn, TOKEN_KEY_SETTING, TokenKey::generate_hex)?;
    TokenKey::from_hex(&stored).ok_or(StorageError::BadSetting(
        TOKEN_KEY_SETTING,
        "expected 32 bytes in hex; delete the row to generate a new key (this invalidates every opaque token)",
    ))
}

/// Creates an opaque API token for a user and returns it; only its hash is kept.
pub fn create_token(conn: &mut AnyConnection, user: &str) -> Result<String, StorageError> {
    let token = token_key(conn)?.mint();
    let now = Utc::now().naive_utc();
    on_backend!(conn, |c| diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::token_hash.eq(tokens::hash_hex(&token)),
            api_tokens::user_id.eq(user),
            api_tokens::created_at.eq(now),
        ))
        .execute(c))?;
    Ok(token)
}

/// Revokes a token; returns false when no live token matched.
pub fn revoke_token(conn: &mut AnyConnection, token: &str) -> Result<bool, StorageError> {
    let now = Utc::now().naive_utc();
    let n = on_backend!(conn, |c| diesel::update(api_tokens::table)
        .filter(api_tokens::token_hash.eq(tokens::hash_hex(token)))
        .filter(api_tokens::revoked_at.is_null())
        .set(api_tokens::revoked_at.eq(now))
        .execute(c))?;
    Ok(n > 0)
}

/// The user an opaque token belongs to, unless it is unknown or revoked.
pub fn user_for_token(
    conn: &mut AnyConnection,
    token: &str,
) -> Result<Option<String>, StorageError> {
    let user = on_backend!(conn, |c| api_tokens::table
        .filter(api_tokens::token_hash.eq(tokens::hash_hex(token)))
        .filter(api_tokens::revoked_at.is_null())
        .select(api_tokens::user_id)
        .first::<String>(c)
        .optional())?;
    Ok(user)
}

/// Returns the stored value of `key`, storing `generate()` first if there is
/// none. Two processes racing here agree on whichever value was stored first.
pub fn setting_or_insert(
    conn: &mut AnyConnection,
    key: &str,
    generate: impl FnOnce() -> String,
) -> Result<String, StorageError> {
    let value = generate();
    let stored = on_backend!(conn, |c| {
        diesel::insert_into(settings::table)
            .values((settings::key.eq(key), settings::value.eq(&value)))
            .on_conflict(settings::key)
            .do_nothing()
            .execute(c)?;
        settings::table
            .find(key)
            .select(settings::value)
            .first::<String>(c)
    })?;
    Ok(stored)
}

/// The stored value of `key`, if any.
pub fn setting(conn: &mut AnyConnection, key: &str) -> Result<Option<String>, StorageError> {
    let v = on_backend!(conn, |c| settings::table
        .find(key)
        .select(settings::value)
        .first::<String>(c)
        .optional())?;
    Ok(v)
}

pub fn ping(conn: &mut AnyConnection) -> Result<(), StorageError> {
    conn.batch_execute("SELECT 1")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_pick_the_backend() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://alerthub.db").unwrap(),
            DatabaseUrl::Sqlite("alerthub.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/a.db").unwrap(),
            DatabaseUrl::Sqlite("/tmp/a.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("data/a.db").unwrap(),
            DatabaseUrl::Sqlite("data/a.db".into())
        );
        assert!(matches!(
            DatabaseUrl::parse("postgresql://u@h/db").unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        assert!(DatabaseUrl::parse("mysql://u@h/db").is_err());
        assert!(DatabaseUrl::parse("").is_err());
    }

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

    fn sqlite_with(sql: &str) -> AnyConnection {
        let mut c = diesel::SqliteConnection::establish(":memory:").unwrap();
        c.run_pending_migrations(SQLITE_MIGRATIONS).unwrap();
        c.batch_execute(sql).unwrap();
        AnyConnection::Sqlite(c)
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

    #[test]
    fn constraint_violations_are_refusals() {
        let mut conn = sqlite_with("");
        let check = diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::CheckViolation,
            Box::new("check".to_string()),
        );
        assert!(classify_insert_error(&mut conn, check).is_refusal());
        let closed = diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ClosedConnection,
            Box::new("closed".to_string()),
        );
        assert!(!classify_insert_error(&mut conn, closed).is_refusal());
    }

    #[test]
    fn postgres_urls_can_name_another_database() {
        let with = postgres_url_with_database;
        assert_eq!(
            with("postgres://u@h:5432/test", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with("postgres://u@h", "x"), "postgres://u@h/x");
    }

    #[test]
    fn passwords_are_hidden_in_logs() {
        let url = DatabaseUrl::parse("postgres://app:s3cret@db:5432/alerts").unwrap();
        assert_eq!(url.redacted(), "postgres://app:***@db:5432/alerts");
    }
}
