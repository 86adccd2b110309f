//! The connection type every storage call takes, and the one error type of
//! the storage layer.
//!
//! `AnyConnection` is diesel's `MultiConnection` over SQLite and
//! PostgreSQL, so the server, the CLI and the tests share one type; where
//! SQL must differ, `on_backend!` expands the same diesel expression for
//! each concrete connection.

use diesel::r2d2;

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
pub(crate) use on_backend;

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
