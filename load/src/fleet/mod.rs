//! The client fleet: everything that opens and holds many sockets and keeps
//! the books on what arrived on them. Scenarios describe a load; this
//! module owns how sockets get there.
//!
//! - [`sessions`]: one socket per user inside this process, each recording
//!   every alert it receives and reconnecting with `since` when told to.
//! - [`processes`]: sockets held by child processes of this tool, each with
//!   its own descriptor limit and loopback source address, for counts one
//!   process cannot hold (the idle scenario's 19,500).
//! - [`accounting`]: which alert went where (latency, lost, doubled).
//!
//! Source addresses: in-process sockets spread over 127.0.0.2–251
//! ([`crate::ws::source_for`]); each child process takes one 127.0.1.x.

pub mod accounting;
pub mod processes;
pub mod sessions;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

pub use accounting::Tracker;
pub use sessions::Fleet;

/// Tokens live long enough for any phase.
pub const TOKEN_TTL: Duration = Duration::from_secs(3600);
/// One handshake, from TCP connect to `connection_established`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Tallies of why connects failed.
#[derive(Default)]
pub struct Failures(Mutex<HashMap<String, u64>>);

impl Failures {
    pub fn add(&self, label: String) {
        *self.0.lock().expect("poisoned").entry(label).or_default() += 1;
    }
    pub fn total(&self) -> u64 {
        self.0.lock().expect("poisoned").values().sum()
    }
    pub fn describe(&self) -> String {
        let map = self.0.lock().expect("poisoned");
        let mut v: Vec<_> = map.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1));
        v.iter()
            .map(|(k, n)| format!("{n}× {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_tallied_most_frequent_first() {
        let f = Failures::default();
        assert_eq!((f.total(), f.describe()), (0, String::new()));
        f.add("timeout".into());
        f.add("closed 4029 rate limited".into());
        f.add("closed 4029 rate limited".into());
        assert_eq!(f.total(), 3);
        assert_eq!(f.describe(), "2× closed 4029 rate limited, 1× timeout");
    }
}
