//! The allocator gives freed memory back to the system at once.
//!
//! mimalloc (the global allocator, `src/main.rs`) purges a freed page only
//! after `purge_delay` (1 s by default in its v3), and only when the thread
//! that owns the page next touches the allocator. A session thread that
//! goes quiet after 19,500 sockets closed never does: their memory, and the
//! close storm's own, stayed resident (RSS 2 s after close 2.95× the fresh
//! process; 1.72–2.04× with the delay at 0, `alerthub-load all --only idle
//! --no-reference`). The price is a `madvise` per freed span and a page
//! fault when it is reused: in a 10 s fan-out at 2,000 alerts/s, 29,200
//! faults and 2,573 `madvise` calls instead of 3,275 and 135, with the
//! server's CPU time unchanged (6.2 s either way; docs/BENCHMARKS.md,
//! "Fourth session").

use libmimalloc_sys as mi;

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_t` (`mimalloc.h`);
/// libmimalloc-sys names only the options both of its versions share. The
/// test below fails if the index stops meaning the purge delay.
const PURGE_DELAY: mi::mi_option_t = 15;

/// mimalloc v3's default purge delay, in milliseconds.
#[cfg(test)]
const DEFAULT_PURGE_DELAY_MS: std::ffi::c_long = 1_000;

/// Purge freed pages immediately. Called once, first thing in `main`.
pub fn return_freed_memory_at_once() {
    // SAFETY: sets one integer option; mimalloc reads options atomically.
    unsafe { mi::mi_option_set(PURGE_DELAY, 0) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_index_is_the_purge_delay() {
        // SAFETY: reads one integer option.
        let value = unsafe { mi::mi_option_get(PURGE_DELAY) };
        assert_eq!(value, DEFAULT_PURGE_DELAY_MS);
    }
}
