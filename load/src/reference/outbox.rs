//! A session's outbound queue: frames the store pushes and the session's
//! task sends. It allocates nothing until the first frame (an idle session
//! costs a mutex, an empty deque and a `Notify`), and past `limit` frames it
//! refuses more and marks itself overflowed, which the session answers with
//! close 1013.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use tokio::sync::Notify;

pub struct Outbox<T> {
    queue: Mutex<VecDeque<T>>,
    limit: usize,
    overflowed: AtomicBool,
    /// Woken on every push and on overflow.
    pub ready: Notify,
}

impl<T> Outbox<T> {
    pub fn new(limit: usize) -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
            limit,
            overflowed: AtomicBool::new(false),
            ready: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<T>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `item`; false (and overflowed from now on) when the queue is full.
    pub fn push(&self, item: T) -> bool {
        let mut q = self.lock();
        if q.len() >= self.limit {
            self.overflowed.store(true, Relaxed);
            drop(q);
            self.ready.notify_one();
            return false;
        }
        q.push_back(item);
        drop(q);
        self.ready.notify_one();
        true
    }

    /// Everything queued, oldest first; the queue keeps little memory after.
    pub fn take(&self) -> VecDeque<T> {
        let mut q = self.lock();
        std::mem::take(&mut *q)
    }

    pub fn overflowed(&self) -> bool {
        self.overflowed.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[test]
    fn frames_come_out_in_order_until_the_limit() {
        let o = Outbox::new(2);
        assert!(o.take().is_empty());
        assert!(o.push(1) && o.push(2));
        assert!(!o.overflowed());
        assert!(!o.push(3));
        assert!(o.overflowed());
        assert_eq!(o.take(), [1, 2]);
        // A push before anyone waits is not lost.
        assert!(o.ready.notified().now_or_never().is_some());
    }
}
