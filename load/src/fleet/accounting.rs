//! Which alert went where: every triggered alert has a sequence number
//! (its `breach_id` is `<prefix><seq>`), a target user (`seq % users`), the
//! time it was due to be sent, how the trigger answered, and how many times
//! (and first when) it arrived on a socket. At the end that gives latency,
//! lost and doubled alerts.
//!
//! Shared by the trigger tasks and the socket readers, so every slot is an
//! atomic; the arrays are sized up front for the phase.

use std::ops::Range;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::stats::Samples;

pub const NOT_SENT: u8 = 0;
/// 201: stored for the first time, must be pushed exactly once.
pub const CREATED: u8 = 1;
/// 200: it existed already, must not be pushed again.
pub const EXISTED: u8 = 2;
/// Any other answer, or no answer.
pub const FAILED: u8 = 3;

/// Lost and doubled alerts, from the trigger statuses and the receive counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Accounting {
    /// Alerts whose trigger was sent.
    pub sent: u64,
    pub created: u64,
    pub existed: u64,
    pub failed: u64,
    /// Created alerts that arrived at least once.
    pub delivered: u64,
    /// Created alerts that never arrived.
    pub lost: u64,
    /// Alerts that arrived more than once (created or not).
    pub duplicated: u64,
    /// Alerts that arrived although their trigger did not create them.
    pub unexpected: u64,
}

/// Counts lost and doubled alerts. `status[i]` is how alert `i`'s trigger
/// answered, `counts[i]` how many times it arrived.
pub fn account(status: &[u8], counts: &[u32]) -> Accounting {
    let mut a = Accounting::default();
    for (i, &s) in status.iter().enumerate() {
        let c = counts.get(i).copied().unwrap_or(0);
        if s != NOT_SENT {
            a.sent += 1;
        }
        match s {
            CREATED => {
                a.created += 1;
                if c == 0 {
                    a.lost += 1;
                } else {
                    a.delivered += 1;
                }
            }
            EXISTED => a.existed += 1,
            FAILED => a.failed += 1,
            _ => {}
        }
        if c > 1 {
            a.duplicated += 1;
        }
        if c > 0 && s != CREATED {
            a.unexpected += 1;
        }
    }
    a
}

pub struct Tracker {
    t0: Instant,
    prefix: String,
    users: usize,
    sched_ns: Vec<AtomicU64>,
    resp_ns: Vec<AtomicU64>,
    recv_ns: Vec<AtomicU64>,
    counts: Vec<AtomicU32>,
    status: Vec<AtomicU8>,
    /// One past the highest sequence number of finished phases.
    issued: AtomicUsize,
    pub received: AtomicU64,
    pub replayed: AtomicU64,
    pub misrouted: AtomicU64,
    pub foreign: AtomicU64,
}

fn atomics<T: Default>(n: usize) -> Vec<T> {
    (0..n).map(|_| T::default()).collect()
}

/// What one phase (a range of sequence numbers) achieved.
#[derive(Debug, Clone, Default)]
pub struct PhaseFigures {
    pub accounting: Accounting,
    /// Due time to first arrival, created alerts that arrived.
    pub delivery: Samples,
    /// Due time to the HTTP answer.
    pub response: Samples,
    /// From the first due time to the last answer / the last arrival.
    pub answer_span: Duration,
    pub arrival_span: Duration,
}

impl PhaseFigures {
    /// Created alerts per second, first due time to last answer.
    pub fn stored_rate(&self) -> Option<f64> {
        crate::stats::rate(self.accounting.created, self.answer_span)
    }
    /// Delivered alerts per second, first due time to last arrival.
    pub fn delivered_rate(&self) -> Option<f64> {
        crate::stats::rate(self.accounting.delivered, self.arrival_span)
    }
}

impl Tracker {
    /// Room for `capacity` alerts to `users` users; breach ids start with `prefix`.
    pub fn new(t0: Instant, prefix: String, users: usize, capacity: usize) -> Self {
        Self {
            t0,
            prefix,
            users: users.max(1),
            sched_ns: atomics(capacity),
            resp_ns: atomics(capacity),
            recv_ns: atomics(capacity),
            counts: atomics(capacity),
            status: atomics(capacity),
            issued: AtomicUsize::new(0),
            received: AtomicU64::new(0),
            replayed: AtomicU64::new(0),
            misrouted: AtomicU64::new(0),
            foreign: AtomicU64::new(0),
        }
    }

    pub fn capacity(&self) -> usize {
        self.status.len()
    }

    pub fn ns(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.t0).as_nanos() as u64
    }

    /// Where the next phase starts.
    pub fn issued(&self) -> usize {
        self.issued.load(Relaxed)
    }

    /// A phase used sequence numbers up to (not including) `end`.
    pub fn set_issued(&self, end: usize) {
        self.issued.fetch_max(end.min(self.capacity()), Relaxed);
    }

    pub fn user_of(&self, seq: usize) -> usize {
        seq % self.users
    }

    pub fn breach_id(&self, seq: usize) -> String {
        format!("{}{seq}", self.prefix)
    }

    /// The sequence number in one of our breach ids.
    pub fn parse_seq(&self, breach_id: &str) -> Option<usize> {
        breach_id.strip_prefix(&self.prefix)?.parse().ok()
    }

    pub fn scheduled(&self, seq: usize, at: Instant) {
        self.sched_ns[seq].store(self.ns(at), Relaxed);
    }

    pub fn answered(&self, seq: usize, status: u8, at: Instant) {
        self.resp_ns[seq].store(self.ns(at), Relaxed);
        self.status[seq].store(status, Relaxed);
    }

    /// An alert arrived on the socket of user `user`.
    pub fn arrived(&self, breach_id: &str, user: usize, replayed: bool, at: Instant) {
        let Some(seq) = self.parse_seq(breach_id).filter(|s| *s < self.capacity()) else {
            self.foreign.fetch_add(1, Relaxed);
            return;
        };
        if self.user_of(seq) != user {
            self.misrouted.fetch_add(1, Relaxed);
            return;
        }
        if self.counts[seq].fetch_add(1, Relaxed) == 0 {
            self.recv_ns[seq].store(self.ns(at), Relaxed);
        }
        self.received.fetch_add(1, Relaxed);
        if replayed {
            self.replayed.fetch_add(1, Relaxed);
        }
    }

    fn clamp(&self, r: Range<usize>) -> Range<usize> {
        r.start.min(self.capacity())..r.end.min(self.capacity())
    }

    /// Created alerts of the range not yet arrived, and triggers not yet answered.
    pub fn pending(&self, r: Range<usize>) -> (u64, u64) {
        let (mut undelivered, mut unanswered) = (0, 0);
        for i in self.clamp(r) {
            match self.status[i].load(Relaxed) {
                NOT_SENT => unanswered += 1,
                CREATED if self.counts[i].load(Relaxed) == 0 => undelivered += 1,
                _ => {}
            }
        }
        (undelivered, unanswered)
    }

    /// One line per trigger of `r`: due, answer and first arrival, in µs
    /// since the tracker's start, `-` for what did not happen.
    pub fn timeline(&self, r: Range<usize>) -> String {
        let us = |ns: &AtomicU64| (ns.load(Relaxed) / 1000).to_string();
        let mut out = String::from("due_us answer_us arrival_us\n");
        for i in self.clamp(r) {
            let answer = match self.status[i].load(Relaxed) {
                NOT_SENT => "-".to_owned(),
                _ => us(&self.resp_ns[i]),
            };
            let arrival = match self.counts[i].load(Relaxed) {
                0 => "-".to_owned(),
                _ => us(&self.recv_ns[i]),
            };
            out += &format!("{} {answer} {arrival}\n", us(&self.sched_ns[i]));
        }
        out
    }

    pub fn figures(&self, r: Range<usize>) -> PhaseFigures {
        self.figures_where(r, |_, _| true)
    }

    /// The figures of the alerts of `r` that `keep(user, due_ns)` selects
    /// (`due_ns` as [`Self::ns`] counts it).
    pub fn figures_where(
        &self,
        r: Range<usize>,
        keep: impl Fn(usize, u64) -> bool,
    ) -> PhaseFigures {
        let r = self.clamp(r);
        let seqs: Vec<usize> = r
            .filter(|&i| keep(self.user_of(i), self.sched_ns[i].load(Relaxed)))
            .collect();
        let status: Vec<u8> = seqs.iter().map(|&i| self.status[i].load(Relaxed)).collect();
        let counts: Vec<u32> = seqs.iter().map(|&i| self.counts[i].load(Relaxed)).collect();
        let mut accounting = account(&status, &counts);
        // A trigger that never answered was still sent.
        accounting.sent = seqs.len() as u64;
        let mut delivery = Samples::with_capacity(seqs.len());
        let mut response = Samples::with_capacity(seqs.len());
        let (mut first, mut last_resp, mut last_recv) = (u64::MAX, 0, 0);
        for (k, &i) in seqs.iter().enumerate() {
            let sched = self.sched_ns[i].load(Relaxed);
            first = first.min(sched);
            if status[k] == NOT_SENT {
                continue;
            }
            let resp = self.resp_ns[i].load(Relaxed);
            last_resp = last_resp.max(resp);
            response.push_us(resp.saturating_sub(sched) / 1000);
            if status[k] == CREATED && counts[k] > 0 {
                let recv = self.recv_ns[i].load(Relaxed);
                last_recv = last_recv.max(recv);
                delivery.push_us(recv.saturating_sub(sched) / 1000);
            }
        }
        let span = |end: u64| Duration::from_nanos(end.saturating_sub(first.min(end)));
        PhaseFigures {
            accounting,
            delivery,
            response,
            answer_span: span(last_resp),
            arrival_span: span(last_recv),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_and_doubled_are_counted() {
        let status = [
            CREATED, CREATED, CREATED, EXISTED, FAILED, NOT_SENT, EXISTED,
        ];
        let counts = [1, 0, 2, 0, 0, 0, 1];
        let a = account(&status, &counts);
        assert_eq!(a.sent, 6);
        assert_eq!(a.created, 3);
        assert_eq!(a.delivered, 2);
        assert_eq!(a.lost, 1);
        assert_eq!(a.duplicated, 1);
        assert_eq!(a.existed, 2);
        assert_eq!(a.failed, 1);
        // The existing alert that was pushed again is unexpected.
        assert_eq!(a.unexpected, 1);
    }

    #[test]
    fn the_timeline_has_a_line_per_trigger_and_dashes_for_what_did_not_happen() {
        let t0 = Instant::now();
        let t = Tracker::new(t0, "T-".into(), 2, 3);
        let at = |us| t0 + Duration::from_micros(us);
        t.scheduled(0, at(100));
        t.answered(0, CREATED, at(900));
        t.arrived("T-0", 0, false, at(1_200));
        t.scheduled(1, at(600));
        t.answered(1, CREATED, at(1_500));
        t.scheduled(2, at(1_100));
        assert_eq!(
            t.timeline(0..3),
            "due_us answer_us arrival_us\n100 900 1200\n600 1500 -\n1100 - -\n"
        );
    }

    #[test]
    fn all_delivered_once_is_clean() {
        let a = account(&[CREATED; 4], &[1; 4]);
        assert_eq!((a.created, a.delivered, a.lost, a.duplicated), (4, 4, 0, 0));
    }

    #[test]
    fn tracker_routes_receipts_and_measures() {
        let t0 = Instant::now();
        let t = Tracker::new(t0, "L_ab-".into(), 3, 10);
        for seq in 0..4 {
            t.scheduled(seq, t0 + Duration::from_millis(seq as u64));
            t.answered(seq, CREATED, t0 + Duration::from_millis(seq as u64 + 1));
        }
        t.set_issued(4);
        assert_eq!(t.issued(), 4);
        assert_eq!(t.breach_id(2), "L_ab-2");
        assert_eq!(t.parse_seq("L_ab-2"), Some(2));
        assert_eq!(t.parse_seq("L_zz-2"), None);
        assert_eq!(t.user_of(4), 1);
        // Alert 0 arrives twice at user 0, alert 1 at the wrong user,
        // alert 2 once (replayed), alert 3 never.
        t.arrived("L_ab-0", 0, false, t0 + Duration::from_millis(5));
        t.arrived("L_ab-0", 0, false, t0 + Duration::from_millis(9));
        t.arrived("L_ab-1", 2, false, t0 + Duration::from_millis(5));
        t.arrived("L_ab-2", 2, true, t0 + Duration::from_millis(9));
        t.arrived("other", 0, false, t0);
        t.arrived("L_ab-99", 0, false, t0);
        assert_eq!(t.misrouted.load(Relaxed), 1);
        assert_eq!(t.foreign.load(Relaxed), 2);
        assert_eq!(t.replayed.load(Relaxed), 1);
        assert_eq!(t.pending(0..4), (2, 0));
        let f = t.figures(0..4);
        let a = f.accounting;
        assert_eq!(
            (a.sent, a.created, a.delivered, a.lost, a.duplicated),
            (4, 4, 2, 2, 1)
        );
        let lat = f.delivery.summary();
        assert_eq!(lat.count, 2);
        // First arrival counts: 5 ms for alert 0, 7 ms for alert 2 (due at 2 ms).
        assert_eq!(lat.p50_us, Some(5_000));
        assert_eq!(lat.max_us, Some(7_000));
        assert_eq!(f.response.summary().max_us, Some(1_000));
        assert_eq!(f.arrival_span, Duration::from_millis(9));
        assert_eq!(f.answer_span, Duration::from_millis(4));
        assert_eq!(f.stored_rate(), Some(1000.0));
        // A later phase is accounted on its own.
        assert_eq!(t.figures(2..3).accounting.delivered, 1);
        // A selection by user and due time: user 0's alerts (0 and 3), then
        // those due from 2 ms on (2 and 3).
        let f = t.figures_where(0..4, |user, _| user == 0);
        assert_eq!(
            (
                f.accounting.sent,
                f.accounting.lost,
                f.accounting.duplicated
            ),
            (2, 1, 1)
        );
        assert_eq!(f.delivery.summary().max_us, Some(5_000));
        let f = t.figures_where(0..4, |_, due| due >= 2_000_000);
        assert_eq!((f.accounting.sent, f.accounting.delivered), (2, 1));
        assert_eq!(f.delivery.summary().max_us, Some(7_000));
        assert_eq!(t.pending(4..6), (0, 2));
    }

    #[test]
    fn issued_only_grows_and_stays_in_capacity() {
        let t = Tracker::new(Instant::now(), "x".into(), 1, 5);
        t.set_issued(3);
        t.set_issued(2);
        assert_eq!(t.issued(), 3);
        t.set_issued(50);
        assert_eq!(t.issued(), 5);
        assert_eq!(t.figures(3..50).accounting.sent, 2);
    }
}
