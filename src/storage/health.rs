//! What the storage calls of the running server last said about the
//! database: up (a call got a connection and ran) or down (storage was
//! unavailable), and when. `/metrics` reads it for `alerthub_database_up`
//! instead of querying the database at every scrape: a busy node answers
//! from its own traffic, and only a node idle for a while checks with a
//! query of its own. (A check at every scrape, while a burst held the pool,
//! made a node open and keep one more connection: the `hostile_transport`
//! memory test saw it.)

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::connection::StorageError;

/// Whether the database answered a call: it did unless the call failed for
/// another reason than a refusal of the data.
pub fn answered<T>(result: &Result<T, StorageError>) -> bool {
    result
        .as_ref()
        .map_or_else(StorageError::is_refusal, |_| true)
}

#[derive(Debug)]
pub struct DbHealth {
    epoch: Instant,
    /// Milliseconds after `epoch` of the last outcome, plus one (0: none yet).
    at_ms: AtomicU64,
    up: AtomicBool,
}

impl Default for DbHealth {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            at_ms: AtomicU64::new(0),
            up: AtomicBool::new(false),
        }
    }
}

impl DbHealth {
    /// Records the outcome of a storage call: the database answered unless
    /// it failed for another reason than refusing the data.
    pub fn record_outcome<T>(&self, result: &Result<T, StorageError>) {
        self.record(answered(result));
    }

    /// Records the outcome of a storage call (a refused row is not an outage).
    pub fn record(&self, up: bool) {
        self.up.store(up, Ordering::Release);
        let now = self.epoch.elapsed().as_millis() as u64 + 1;
        self.at_ms.store(now, Ordering::Release);
    }

    /// The last outcome, if there was one within `within`.
    pub fn recent(&self, within: Duration) -> Option<bool> {
        let at = self.at_ms.load(Ordering::Acquire);
        let age = (self.epoch.elapsed().as_millis() as u64 + 1).checked_sub(at)?;
        (at > 0 && age <= within.as_millis() as u64).then(|| self.up.load(Ordering::Acquire))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_recent_outcome_counts() {
        let h = DbHealth::default();
        assert_eq!(h.recent(Duration::from_secs(10)), None);
        h.record(false);
        assert_eq!(h.recent(Duration::from_secs(10)), Some(false));
        h.record(true);
        assert_eq!(h.recent(Duration::from_secs(10)), Some(true));
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(h.recent(Duration::from_millis(5)), None);
    }
}
