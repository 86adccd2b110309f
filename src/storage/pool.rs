//! Where the data lives and how connections to it are made: the database
//! URL, the r2d2 pool (with a query counter for `/metrics`), SQLite's
//! tuning and its checkpoint thread, and the embedded migrations.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::connection::{AnyConnection, StorageError, on_backend};

pub(crate) const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

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
    /// PostgreSQL: plan each prepared statement once (`inserts`' pool).
    generic_plans: bool,
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
                // memory. The WAL is checkpointed by a thread of its own
                // (`storage::checkpoint`); under a steady load it passes
                // 10,000 frames and then the automatic checkpoint runs in
                // every commit, which keeps the WAL short (docs/storage.md
                // says why 10,000: measured against 1,000 and 100,000).
                // temp_store = MEMORY keeps the statement journal (the
                // undo of one statement inside a transaction, which SQLite
                // spills to a new temporary file past 64 KiB: every grouped
                // INSERT did) and RETURNING's rows in memory. Neither is part
                // of what a commit makes durable; the WAL is.
                // journal_size_limit: once the checkpointer has started the
                // WAL over, the file is cut back to 256 MiB.
                c.batch_execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                     PRAGMA cache_size = -16384; PRAGMA wal_autocheckpoint = 10000; \
                     PRAGMA temp_store = MEMORY; PRAGMA journal_size_limit = 268435456;",
                )?;
                Ok(AnyConnection::Sqlite(c))
            }
            DatabaseUrl::Postgres(url) => {
                let mut c = establish_postgres(url).map_err(connect_error)?;
                // No JIT: every query here is short, and PostgreSQL compiles
                // one whose estimated cost passes `jit_above_cost` — a
                // catch-up over 500 users was — at tens to hundreds of ms of
                // CPU each: 0.4–1.5 s per query while a returning shard's
                // catch-up ran on every node (docs/capacity.md,
                // "Seventeenth session"). Guarded for servers older than 11,
                // which have no `jit` setting.
                c.batch_execute(
                    "SELECT set_config('jit', 'off', false) \
                     WHERE current_setting('server_version_num')::int >= 110000",
                )?;
                if self.generic_plans {
                    c.batch_execute("SET plan_cache_mode = force_generic_plan")?;
                }
                Ok(AnyConnection::Postgresql(c))
            }
        }
    }
}

/// A PostgreSQL connection, with OpenSSL (libpq's TLS) set up first so that
/// it keeps its state until the process is gone.
///
/// By default OpenSSL frees its global state in an `atexit` handler. A
/// thread that used TLS and exits — or still uses it — while that handler
/// runs frees some of it again: the process aborts with "double free or
/// corruption" on its way out (CI saw it once after the PostgreSQL suite
/// had passed; diesel#3441 and r2d2#137 describe the same race). r2d2's
/// workers, which open connections, live on for up to 30 s after their pool
/// is dropped, so a process that exits soon after closing a pool can meet
/// it. `openssl::init` sets OpenSSL up without the handler (the kernel takes
/// the memory back at exit anyway); OpenSSL's first set-up decides, so this
/// runs before libpq's own, and later calls do nothing.
pub fn establish_postgres(url: &str) -> diesel::ConnectionResult<diesel::PgConnection> {
    openssl::init();
    diesel::PgConnection::establish(url)
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
    /// Connections for the DB actor's read threads (`ALERTHUB_DB_POOL_SIZE`);
    /// the trigger's inserts have one more of their own (`DbPools`).
    pub max_size: u32,
    pub connect_timeout: Duration,
}

/// Connects once (so a bad URL or a down server is reported with its real
/// cause), applies migrations, then builds the pool.
pub fn connect(url: &DatabaseUrl, options: &PoolOptions) -> Result<DbPool, StorageError> {
    Ok(connect_pools(url, options, None)?.reads)
}

/// A running server's two pools over one database.
pub struct DbPools {
    /// Every storage call but the trigger's inserts: `ALERTHUB_DB_POOL_SIZE`
    /// connections.
    pub reads: DbPool,
    /// The trigger's inserts (`startup::wiring`): one connection, so a write
    /// never waits for a connection a read holds. On PostgreSQL it plans
    /// each prepared statement once: PostgreSQL plans a prepared statement
    /// again on every run for as long as a plan for the run's own values
    /// looks cheaper than the generic plan, and with array parameters — the
    /// grouped insert's rows — it always does; that planning cost more than
    /// the rest of the insert (docs/storage.md). The reads keep the default:
    /// their queries on `NOT read` use a partial index that a generic plan
    /// of `read = $n` could not.
    pub inserts: DbPool,
}

/// `connect`, with the inserts' pool beside the reads', counting every
/// statement run on their connections in `queries` if given (the SQLite
/// checkpoint thread's own connection is not counted).
pub fn connect_pools(
    url: &DatabaseUrl,
    options: &PoolOptions,
    queries: Option<prometheus::IntCounter>,
) -> Result<DbPools, StorageError> {
    let manager = Manager {
        url: url.clone(),
        alive: std::sync::Arc::default(),
        queries,
        generic_plans: false,
    };
    let mut first = manager.open()?;
    migrate(&mut first)?;
    if url.is_sqlite() {
        super::checkpoint::spawn(first, std::sync::Arc::downgrade(&manager.alive));
    }
    let inserts = Manager {
        generic_plans: true,
        ..manager.clone()
    };
    Ok(DbPools {
        reads: pool_of(manager, options.max_size, options),
        inserts: pool_of(inserts, 1, options),
    })
}

fn pool_of(manager: Manager, size: u32, options: &PoolOptions) -> DbPool {
    Pool::builder()
        .max_size(size)
        .min_idle(Some(0))
        .connection_timeout(options.connect_timeout)
        // A PostgreSQL restart leaves pooled connections dead without
        // diesel noticing; a `SELECT 1` on check-out finds them so the pool
        // reconnects on its own. A SQLite file cannot go away like that.
        .test_on_check_out(!manager.url.is_sqlite())
        .build_unchecked(manager)
}

pub fn migrate(conn: &mut AnyConnection) -> Result<(), StorageError> {
    let result = match conn {
        AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
        AnyConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ()),
    };
    result.map_err(|e| StorageError::Migration(e.to_string()))
}

/// A migrated SQLite database in memory, for unit tests of storage.
#[cfg(test)]
pub fn in_memory_sqlite() -> AnyConnection {
    let mut c = diesel::SqliteConnection::establish(":memory:").unwrap();
    c.run_pending_migrations(SQLITE_MIGRATIONS).unwrap();
    AnyConnection::Sqlite(c)
}

/// What SQLite's `EXPLAIN QUERY PLAN` says it would do for `sql` on a
/// migrated database, one line per step (for tests of indexes' use).
#[cfg(test)]
pub fn sqlite_query_plan(sql: &str) -> Vec<String> {
    sqlite_query_plan_on(&mut in_memory_sqlite(), sql)
}

/// The same, on a given SQLite database (one a test has migrated itself).
#[cfg(test)]
pub fn sqlite_query_plan_on(conn: &mut AnyConnection, sql: &str) -> Vec<String> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Step {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }
    let AnyConnection::Sqlite(c) = conn else {
        unreachable!("a query plan of SQLite's")
    };
    let steps: Vec<Step> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
        .load(c)
        .unwrap();
    steps.into_iter().map(|s| s.detail).collect()
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
