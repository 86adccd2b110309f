//! Rows of the summary table: a figure, its target, what was measured,
//! whether the target is met, the CPU both sides used meanwhile, and the
//! figure as one number ([`Headline`]) for the ratio to the reference
//! ([`compare`]); [`doc`] writes them into docs/BENCHMARKS.md.

pub mod compare;
pub mod doc;

use std::fmt::{self, Write};

use crate::procstat::CpuUse;
use crate::stats::{Ms, thousands};

/// What a headline number counts, and so how to print it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Sockets held.
    Sockets,
    /// KiB of RSS per socket.
    KibPerSocket,
    /// µs of server CPU per socket per second.
    UsPerSocketSecond,
    /// A multiple of the fresh process's RSS.
    TimesFresh,
    /// Events per second.
    PerSecond,
    /// Milliseconds of latency.
    Ms,
    /// Seconds until something completed.
    Seconds,
}

/// A row's figure as one number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Headline {
    pub value: f64,
    pub unit: Unit,
}

impl Headline {
    pub fn new(value: f64, unit: Unit) -> Option<Self> {
        value.is_finite().then_some(Self { value, unit })
    }
}

impl fmt::Display for Headline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.value;
        match self.unit {
            Unit::Sockets => write!(f, "{}", thousands(v.round() as u64)),
            Unit::KibPerSocket => write!(f, "{v:.2} KiB"),
            Unit::UsPerSocketSecond => write!(f, "{v:.2} µs"),
            Unit::TimesFresh => write!(f, "{v:.1}× fresh"),
            Unit::PerSecond => write!(f, "{}/s", thousands(v.round() as u64)),
            Unit::Ms => write!(f, "{}", Ms(Some(v))),
            Unit::Seconds => write!(f, "{v:.2} s"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Met,
    NotMet,
    /// Measured under smaller conditions than the target's (e.g. `--quick`).
    NotApplicable(String),
    /// A figure with no target.
    Info,
    /// The scenario could not run.
    Failed(String),
}

impl Verdict {
    pub fn from_bool(met: bool) -> Self {
        if met { Self::Met } else { Self::NotMet }
    }

    /// `met` when the conditions matched the target's, else n/a.
    pub fn judged(full: bool, met: bool) -> Self {
        if full {
            Self::from_bool(met)
        } else {
            Self::NotApplicable("smaller than the target's conditions".into())
        }
    }

    pub fn label(&self) -> String {
        match self {
            Self::Met => "met".into(),
            Self::NotMet => "NOT MET".into(),
            Self::NotApplicable(_) => "n/a".into(),
            Self::Info => "-".into(),
            Self::Failed(why) => format!("failed: {why}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub figure: String,
    pub target: String,
    pub measured: String,
    pub verdict: Verdict,
    pub cpu: Option<CpuUse>,
    pub headline: Option<Headline>,
}

impl Row {
    pub fn new(
        figure: impl Into<String>,
        target: impl Into<String>,
        measured: impl Into<String>,
        verdict: Verdict,
    ) -> Self {
        Self {
            figure: figure.into(),
            target: target.into(),
            measured: measured.into(),
            verdict,
            cpu: None,
            headline: None,
        }
    }

    /// The figure as one number (none when it is not finite).
    pub fn headline(mut self, value: f64, unit: Unit) -> Self {
        self.headline = Headline::new(value, unit);
        self
    }

    pub fn cpu(mut self, cpu: CpuUse) -> Self {
        self.cpu = Some(cpu);
        self
    }

    pub fn failed(
        figure: impl Into<String>,
        target: impl Into<String>,
        why: impl Into<String>,
    ) -> Self {
        let why = why.into();
        Self::new(figure, target, "-", Verdict::Failed(why))
    }
}

/// Text for a markdown table cell.
pub fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The rows as a markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str("| figure | target | measured | verdict | server CPU | tool CPU | rest of the machine: other processes, softirq, I/O stall |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    for r in rows {
        let (server, tool, others) = match &r.cpu {
            Some(c) => (
                c.server_cores()
                    .map(|s| format!("{s:.2} cores"))
                    .unwrap_or_else(|| "?".into()),
                format!("{:.2} cores", c.tool_cores()),
                {
                    let w = c.wall.as_secs_f64().max(1e-9);
                    format!(
                        "{}{}{}",
                        c.others_cores()
                            .map_or("?".into(), |o| format!("{o:.2} cores")),
                        c.interrupts
                            .map_or(String::new(), |i| format!(", softirq {:.2}", i / w)),
                        c.io_stall
                            .map_or(String::new(), |p| format!(", I/O stall {:.0}%", p * 100.0))
                    )
                },
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            cell(&r.figure),
            cell(&r.target),
            cell(&r.measured),
            cell(&r.verdict.label()),
            server,
            tool,
            others
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn table_renders_rows_and_escapes_pipes() {
        let rows = vec![
            Row::new(
                "handshakes",
                "≥ 5,000/s",
                "6,100/s | p99 3 ms",
                Verdict::Met,
            )
            .cpu(CpuUse {
                wall: Duration::from_secs(2),
                server: Some(2.0),
                tool: 1.0,
                others: Some(0.1),
                interrupts: None,
                steal: None,
                io_stall: None,
            }),
            Row::failed("batch", "≥ 30,000/s", "server did not start"),
            Row::new("ping", "-", "p99 1 ms", Verdict::judged(false, true)),
        ];
        let t = table(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(
            lines[2],
            "| handshakes | ≥ 5,000/s | 6,100/s \\| p99 3 ms | met | 1.00 cores | 0.50 cores | 0.05 cores |"
        );
        assert!(lines[3].contains("failed: server did not start"));
        assert!(lines[4].contains("| n/a |"));
    }

    #[test]
    fn headlines_print_in_their_units() {
        let h = |v, u| Headline::new(v, u).unwrap().to_string();
        assert_eq!(h(19_500.0, Unit::Sockets), "19,500");
        assert_eq!(h(5.954, Unit::KibPerSocket), "5.95 KiB");
        assert_eq!(h(0.8123, Unit::UsPerSocketSecond), "0.81 µs");
        assert_eq!(h(14.96, Unit::TimesFresh), "15.0× fresh");
        assert_eq!(h(12_490.4, Unit::PerSecond), "12,490/s");
        assert_eq!(h(3.18, Unit::Ms), "3.18 ms");
        assert_eq!(h(1.284, Unit::Seconds), "1.28 s");
        assert!(Headline::new(f64::NAN, Unit::Ms).is_none());
    }
}
