//! Latency samples and their percentiles.
//!
//! Every sample is kept (microseconds, `u64`): the largest phase records a
//! few hundred thousand, so sorting them once at the end is cheap and the
//! percentiles are exact (nearest rank), with no histogram bucketing error.

use std::fmt;
use std::time::Duration;

/// Percentile by the nearest-rank method: the smallest sample such that at
/// least `q` of all samples are at or below it. `sorted` must be ascending;
/// `q` is a fraction in (0, 1].
pub fn percentile(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() || !(q > 0.0 && q <= 1.0) {
        return None;
    }
    let n = sorted.len();
    let rank = (q * n as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, n) - 1])
}

#[derive(Debug, Default, Clone)]
pub struct Samples {
    us: Vec<u64>,
}

impl Samples {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(n: usize) -> Self {
        Self {
            us: Vec::with_capacity(n),
        }
    }

    pub fn push_us(&mut self, us: u64) {
        self.us.push(us);
    }

    pub fn push(&mut self, d: Duration) {
        self.us.push(d.as_micros().min(u64::MAX as u128) as u64);
    }

    pub fn extend(&mut self, other: Samples) {
        self.us.extend(other.us);
    }

    pub fn summary(&self) -> Summary {
        let mut v = self.us.clone();
        v.sort_unstable();
        let sum: u128 = v.iter().map(|&x| x as u128).sum();
        Summary {
            count: v.len(),
            mean_us: if v.is_empty() {
                None
            } else {
                Some((sum / v.len() as u128) as u64)
            },
            p50_us: percentile(&v, 0.50),
            p99_us: percentile(&v, 0.99),
            p999_us: percentile(&v, 0.999),
            max_us: v.last().copied(),
        }
    }
}

/// The figures every latency row prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub count: usize,
    pub mean_us: Option<u64>,
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
    pub p999_us: Option<u64>,
    pub max_us: Option<u64>,
}

impl Summary {
    pub fn p50_ms(&self) -> Option<f64> {
        self.p50_us.map(us_to_ms)
    }
    pub fn p99_ms(&self) -> Option<f64> {
        self.p99_us.map(us_to_ms)
    }
    pub fn p999_ms(&self) -> Option<f64> {
        self.p999_us.map(us_to_ms)
    }
    pub fn max_ms(&self) -> Option<f64> {
        self.max_us.map(us_to_ms)
    }
}

pub fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Milliseconds with a precision that suits the size: `0.412`, `4.12`, `41.2`, `412`.
pub struct Ms(pub Option<f64>);

impl fmt::Display for Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => write!(f, "-"),
            Some(ms) if ms < 1.0 => write!(f, "{ms:.3} ms"),
            Some(ms) if ms < 10.0 => write!(f, "{ms:.2} ms"),
            Some(ms) if ms < 100.0 => write!(f, "{ms:.1} ms"),
            Some(ms) => write!(f, "{ms:.0} ms"),
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "n={} p50 {} p99 {} p99.9 {} max {}",
            self.count,
            Ms(self.p50_ms()),
            Ms(self.p99_ms()),
            Ms(self.p999_ms()),
            Ms(self.max_ms())
        )
    }
}

/// `19,500`: thousands separated by commas.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate in events per second, `None` if the span is empty.
pub fn rate(count: u64, span: Duration) -> Option<f64> {
    let s = span.as_secs_f64();
    (s > 0.0 && count > 0).then(|| count as f64 / s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.50), Some(50));
        assert_eq!(percentile(&v, 0.99), Some(99));
        assert_eq!(percentile(&v, 0.999), Some(100));
        assert_eq!(percentile(&v, 1.0), Some(100));
        assert_eq!(percentile(&v, 0.01), Some(1));
        assert_eq!(percentile(&v, 0.001), Some(1));
    }

    #[test]
    fn percentile_edges() {
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[7], 0.5), Some(7));
        assert_eq!(percentile(&[7], 0.999), Some(7));
        assert_eq!(percentile(&[1, 2], 0.0), None);
        assert_eq!(percentile(&[1, 2], 1.5), None);
        assert_eq!(percentile(&[1, 2], f64::NAN), None);
        // Ten samples: p50 is the 5th, p99 and p99.9 the 10th.
        let v: Vec<u64> = (10..20).collect();
        assert_eq!(percentile(&v, 0.5), Some(14));
        assert_eq!(percentile(&v, 0.99), Some(19));
        assert_eq!(percentile(&v, 0.999), Some(19));
    }

    #[test]
    fn one_outlier_in_a_thousand_shows_at_p999_not_p99() {
        let mut s = Samples::new();
        for _ in 0..999 {
            s.push_us(1_000);
        }
        s.push_us(50_000);
        let sum = s.summary();
        assert_eq!(sum.count, 1000);
        assert_eq!(sum.p50_us, Some(1_000));
        assert_eq!(sum.p99_us, Some(1_000));
        assert_eq!(sum.p999_us, Some(1_000));
        assert_eq!(sum.max_us, Some(50_000));
        // Two outliers in a thousand reach p99.9.
        s.push_us(60_000);
        let sum = s.summary();
        assert_eq!(sum.p999_us, Some(50_000));
    }

    #[test]
    fn summary_sorts_unsorted_input_and_means() {
        let mut s = Samples::new();
        for x in [5, 1, 4, 2, 3] {
            s.push(Duration::from_micros(x));
        }
        let sum = s.summary();
        assert_eq!(sum.p50_us, Some(3));
        assert_eq!(sum.max_us, Some(5));
        assert_eq!(sum.mean_us, Some(3));
        assert_eq!(Samples::new().summary().p50_us, None);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(19500), "19,500");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn formats_and_rates() {
        assert_eq!(Ms(Some(0.4123)).to_string(), "0.412 ms");
        assert_eq!(Ms(Some(4.123)).to_string(), "4.12 ms");
        assert_eq!(Ms(Some(41.23)).to_string(), "41.2 ms");
        assert_eq!(Ms(Some(412.3)).to_string(), "412 ms");
        assert_eq!(Ms(None).to_string(), "-");
        assert_eq!(rate(5000, Duration::from_secs(2)), Some(2500.0));
        assert_eq!(rate(0, Duration::from_secs(2)), None);
        assert_eq!(rate(10, Duration::ZERO), None);
    }
}
