//! A connection kept checked out by a caller that uses it all the time:
//! the trigger's `AlertWriter`, which commits a group every few
//! milliseconds under load, and each of the `DbActor`'s threads, which
//! run every other storage call (a read being marked, a replay, a count).
//!
//! Why: a PostgreSQL pool checks each connection it hands out with a
//! `SELECT 1` (`pool::pool_of`), so every call cost one round trip to the
//! database more than its own statements: on an alert's way to its 201,
//! and a fifth to a quarter of what a `mark_read` costs PostgreSQL
//! (docs/capacity.md, "Seventeenth session"). Like HikariCP's
//! `aliveBypassWindowMs`, a connection that answered less than
//! `TRUSTED_FOR` ago is used without the check; one idle for longer goes
//! back to the pool and the next call checks out again, with the check.
//!
//! A connection can still die within that window (the database restarted).
//! Then a call that may run twice (`Retry::Safe`) and fails for any reason
//! but a refusal of the data is run once more on a connection checked out,
//! and checked, anew — so a restart fails no more calls than it did with
//! the check on every call. A call that failed after its commit (the
//! answer lost with the connection) is run again too, so only calls whose
//! second run answers as the first may: reads, a trigger's insert
//! (idempotent by `user_id`, `breach_id`: its rows then come back "already
//! stored" and are not pushed — as a single try, answered 503, did not push
//! them either), marking one alert read. Every other call (`Retry::Once`:
//! a token created, push jobs claimed, a subscription deleted) runs once,
//! on a connection checked first, as before the window existed
//! (docs/storage.md, "Pool, timeouts and outages").

use std::time::{Duration, Instant};

use super::connection::{AnyConnection, StorageError};
use super::health::{DbHealth, answered};
use super::pool::{DbConn, DbPool};

/// How long a connection that answered is trusted without a check.
pub const TRUSTED_FOR: Duration = Duration::from_secs(1);

/// Whether a call may run a second time after a failure that may have
/// followed its commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// A read, or a write whose second run answers as the first did: runs
    /// on the held connection without the pool's check, and once more on a
    /// connection checked anew if that fails.
    Safe,
    /// A write whose second run would answer differently or act twice:
    /// runs once, on a connection the pool checks first.
    Once,
}

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
    /// `TRUSTED_FOR` and `retry` allows a second run, else on one checked
    /// out of the pool; records the outcome in `health` (a row the
    /// database refused still means it answered), so every storage call of
    /// the server fails and is recorded the same way when the pool is empty.
    pub fn run<T>(
        &mut self,
        health: &DbHealth,
        retry: Retry,
        mut work: impl FnMut(&mut AnyConnection) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        // A connection not used goes back to the pool here, before the
        // check-out below: a thread never holds two.
        let trusted = self
            .held
            .take()
            .filter(|(_, answered)| retry == Retry::Safe && answered.elapsed() < TRUSTED_FOR);
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
