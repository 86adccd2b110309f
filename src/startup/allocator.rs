//! Memory handed back by threads that went quiet.
//!
//! mimalloc (the binary's allocator, `main.rs`) takes back a block that
//! another thread freed, and returns a page that emptied to the system, only
//! when the page's *owning* thread next allocates or collects. After a burst
//! (19,500 sockets closed, twenty stuck sessions flushed) the threads that
//! owned those pages — the session arbiters, the system arbiter with the
//! registry and hubs, the trigger's writer, the push sender, the HTTP
//! workers — are idle, and the memory would stay in the RSS until they next
//! got work. So each of them collects once a second: `mi_collect(false)`
//! costs microseconds on an idle heap (under 0.2% of a profile with 19,500
//! idle sockets; docs/BENCHMARKS.md, "Fifth session").
//!
//! In a process whose global allocator is not mimalloc (the test binaries
//! run the server in-process on the system allocator) it collects an empty
//! heap: harmless.

use std::cell::Cell;
use std::time::Duration;

use tokio::time::MissedTickBehavior;

const EVERY: Duration = Duration::from_secs(1);

thread_local! {
    /// This thread already collects (actix-server builds a worker's
    /// services again on its thread after one failed).
    static COLLECTING: Cell<bool> = const { Cell::new(false) };
}

/// Starts collecting once a second on the current thread, which must run
/// an actix (tokio) runtime. A second call on the same thread does nothing.
pub fn hand_back_on_this_thread() {
    if COLLECTING.replace(true) {
        return;
    }
    actix_web::rt::spawn(async {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            // SAFETY: `mi_collect` takes no pointers and only touches the
            // calling thread's heap and mimalloc's own state.
            unsafe { libmimalloc_sys::mi_collect(false) };
        }
    });
}
