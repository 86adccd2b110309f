//! A connection kept checked out by the one caller that uses it all the
//! time: the trigger's `AlertWriter`, which commits a group every few
//! milliseconds under load.
//!
//! Why: a PostgreSQL pool checks each connection it hands out with a
//! `SELECT 1` (`pool::pool_of`), so every group cost two round trips to
//! the database instead of one, and the check was on every alert's way to
//! its 201. Like HikariCP's `aliveBypassWindowMs`, a connection that
//! answered less than `TRUSTED_FOR` ago is used without the check; one idle
//! for longer goes back to the pool and the next call checks out again,
//! with the check.
//!
//! A connection can still die within that window (the database restarted).
//! Then a call that fails for any reason but a refusal of the data is run
//! once more on a connection checked out, and checked, anew — so a restart
//! fails no more calls than it did with the check on every call. A call
//! that failed after its commit (the answer lost with the connection) is
//! run again too; a trigger's insert is idempotent by (`user_id`,
//! `breach_id`), so its rows then come back "already stored" and are not
//! pushed — as a single try, answered 503, did not push them either
//! (docs/storage.md, "Pool, timeouts and outages").

use std::time::{Duration, Instant};

use super::connection::{AnyConnection, StorageError};
use super::health::{DbHealth, answered};
use super::pool::{DbConn, DbPool};

/// How long a connection that answered is trusted without a check.
pub const TRUSTED_FOR: Duration = Duration::from_secs(1);

pub struct HeldConnection {
    pool: DbPool,
    /// The connection and when it last answered.
    held: Option<(DbConn, Instant)>,
}

impl HeldConnection {
    pub fn new(pool: DbPool) -> Self {
        Self { pool, held: None }
    }

    /// Runs `work` on the held connection if it answered within
    /// `TRUSTED_FOR`, else on one checked out of the pool; records the
    /// outcome in `health` as `health::with_connection` does.
    pub fn run<T>(
        &mut self,
        health: &DbHealth,
        mut work: impl FnMut(&mut AnyConnection) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let trusted = self
            .held
            .take()
            .filter(|(_, answered)| answered.elapsed() < TRUSTED_FOR);
        let result = match trusted {
            Some((conn, _)) => match self.attempt(conn, &mut work) {
                Err(e) if !e.is_refusal() => self.checked_out(&mut work),
                result => result,
            },
            None => self.checked_out(&mut work),
        };
        health.record_outcome(&result);
        result
    }

    fn checked_out<T>(
        &mut self,
        work: &mut impl FnMut(&mut AnyConnection) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let conn = self.pool.get().map_err(StorageError::from)?;
        self.attempt(conn, work)
    }

    /// Keeps the connection if the database answered (a refusal is an
    /// answer); otherwise it goes back to the pool, which drops it if
    /// broken.
    fn attempt<T>(
        &mut self,
        mut conn: DbConn,
        work: &mut impl FnMut(&mut AnyConnection) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let result = work(&mut conn);
        if answered(&result) {
            self.held = Some((conn, Instant::now()));
        }
        result
    }
}
