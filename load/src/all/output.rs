//! The report of `all`: the run's facts (date, machine, background load
//! before and during the run, commit, the exact command line), each figure
//! beside the reference's with the ratio, and every row in full with the
//! CPU each side used.

use std::time::{Duration, Instant};

use super::machine::{git_commit, git_dirty, machine};
use crate::procstat::{self, CpuUse};
use crate::report::{self, Row, compare};

/// CPU over the whole run: this tool, its children (the servers and the
/// client processes, once they exited) and every other process.
pub struct RunMeter {
    start: Instant,
    machine0: Option<f64>,
    own0: f64,
    children0: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct WholeRun {
    pub wall: Duration,
    /// Cores used by processes other than the servers and this tool, on average.
    pub others_cores: Option<f64>,
    /// Cores used by this tool and its children (servers included), on average.
    pub ours_cores: f64,
}

impl RunMeter {
    pub fn start() -> Self {
        Self {
            start: Instant::now(),
            machine0: procstat::machine_cpu().map(|m| m.0),
            own0: procstat::own_cpu(),
            children0: procstat::children_cpu(),
        }
    }

    pub fn finish(&self) -> WholeRun {
        let wall = self.start.elapsed();
        let ours = procstat::own_cpu() - self.own0 + procstat::children_cpu() - self.children0;
        let secs = wall.as_secs_f64().max(1e-9);
        let others = match (self.machine0, procstat::machine_cpu()) {
            (Some(m0), Some(m1)) => Some(((m1.0 - m0 - ours) / secs).max(0.0)),
            _ => None,
        };
        WholeRun {
            wall,
            others_cores: others,
            ours_cores: ours / secs,
        }
    }
}

/// What the rest of the machine did over a short quiet measurement. The
/// other processes' share is the machine's CPU less the tool's, read at
/// slightly different moments: on an idle machine it can come out a hair
/// below zero, which reads as 0.
pub fn describe_background(c: &CpuUse) -> String {
    format!(
        "other processes {} cores, softirq {} cores{}",
        c.others_cores().map_or("?".into(), |o| format!("{o:.2}")),
        c.interrupts.map_or("?".into(), |o| format!("{o:.2}")),
        c.io_stall
            .map_or(String::new(), |p| format!(", I/O stall {:.0}%", p * 100.0)),
    )
}

pub struct RunFacts {
    pub date: String,
    pub quick: bool,
    pub server_bin: String,
    pub reference_bin: Option<String>,
    pub load_before: String,
    pub load_after: String,
    pub quiet: CpuUse,
    pub whole: WholeRun,
    pub total: Duration,
}

/// The command line as typed, quoting what a shell would need quoted.
pub fn command_line(args: impl Iterator<Item = String>) -> String {
    args.map(|a| {
        if !a.is_empty()
            && a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@+%".contains(&b))
        {
            a
        } else {
            format!("'{}'", a.replace('\'', r"'\''"))
        }
    })
    .collect::<Vec<_>>()
    .join(" ")
}

fn facts_block(f: &RunFacts) -> String {
    let others = f
        .whole
        .others_cores
        .map_or("?".into(), |o| format!("{o:.2}"));
    let mut out = String::from("```text\n");
    out.push_str(&format!("date: {}\n", f.date));
    out.push_str(&format!("machine: {}\n", machine()));
    out.push_str(&format!(
        "background before the run: {} in the second before it; load average {}\n",
        describe_background(&f.quiet),
        f.load_before
    ));
    out.push_str(&format!(
        "background during the run: processes other than the servers and this tool {others} cores on average over {:.0} s (the servers and this tool {:.2}); load average after {}\n",
        f.whole.wall.as_secs_f64(),
        f.whole.ours_cores,
        f.load_after
    ));
    out.push_str(&format!(
        "commit: {}{}\n",
        git_commit(),
        if git_dirty() {
            " (with uncommitted changes)"
        } else {
            ""
        }
    ));
    out.push_str(&format!("command: {}\n", command_line(std::env::args())));
    out.push_str(&format!(
        "alerthub: {} (a fresh process and database per scenario, RUST_LOG=warn)\n",
        f.server_bin
    ));
    if let Some(r) = &f.reference_bin {
        out.push_str(&format!(
            "reference: {r} (a fresh process per scenario, everything in memory)\n"
        ));
    }
    out.push_str(&format!(
        "sizes: {}\ntotal time: {:.0} s\n```\n",
        if f.quick {
            "quick (smaller than the targets' conditions: verdicts read n/a)"
        } else {
            "full"
        },
        f.total.as_secs_f64()
    ));
    out
}

/// The whole report, markdown.
pub fn report(f: &RunFacts, alerthub: &[Row], reference: Option<&[Row]>) -> String {
    let mut out = facts_block(f);
    let reference = reference.unwrap_or(&[]);
    out.push_str(
        "\nThe ratio is alerthub ÷ reference: above 1 means more memory, CPU or latency than the reference, below 1 a lower rate.\n\n",
    );
    out.push_str(&compare::summary(&compare::pair(alerthub, reference)));
    out.push_str("\n<details><summary>alerthub: every figure in full, with the CPU used meanwhile</summary>\n\n");
    out.push_str(&report::table(alerthub));
    out.push_str("\n</details>\n");
    if !reference.is_empty() {
        out.push_str("\n<details><summary>reference: every figure in full, with the CPU used meanwhile</summary>\n\n");
        out.push_str(&report::table(reference));
        out.push_str("\n</details>\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_background_a_hair_below_zero_reads_as_zero() {
        let quiet = CpuUse {
            wall: Duration::from_secs(1),
            others: Some(-0.003),
            interrupts: Some(0.0),
            ..CpuUse::default()
        };
        let text = describe_background(&quiet);
        assert!(text.starts_with("other processes 0.00 cores,"), "{text}");
    }

    #[test]
    fn command_lines_are_quoted_for_a_shell() {
        let args = [
            "target/release/alerthub-load",
            "all",
            "--postgres-url",
            "postgres://postgres@127.0.0.1/alerthub_load",
            "--only",
            "idle,fanout",
            "it's here",
            "",
        ]
        .map(String::from);
        assert_eq!(
            command_line(args.into_iter()),
            "target/release/alerthub-load all --postgres-url postgres://postgres@127.0.0.1/alerthub_load --only idle,fanout 'it'\\''s here' ''"
        );
    }

    #[test]
    fn reports_hold_the_facts_and_both_tables() {
        let facts = RunFacts {
            date: "2026-01-01 00:00:00 UTC".into(),
            quick: true,
            server_bin: "target/release/alerthub".into(),
            reference_bin: Some("target/release/alerthub-reference".into()),
            load_before: "0.01 0.02 0.03".into(),
            load_after: "0.50 0.20 0.10".into(),
            quiet: CpuUse::default(),
            whole: WholeRun {
                wall: Duration::from_secs(100),
                others_cores: Some(0.04),
                ours_cores: 1.2,
            },
            total: Duration::from_secs(100),
        };
        let a = [Row::new("x", "t", "m", report::Verdict::Met)];
        let text = report(&facts, &a, Some(&a));
        assert!(text.contains("load average 0.01 0.02 0.03"));
        assert!(text.contains("other than the servers and this tool 0.04 cores"));
        assert!(text.contains("load average after 0.50 0.20 0.10"));
        assert!(text.contains("reference: target/release/alerthub-reference"));
        assert_eq!(text.matches("<details>").count(), 2);
        assert_eq!(report(&facts, &a, None).matches("<details>").count(), 1);
    }
}
