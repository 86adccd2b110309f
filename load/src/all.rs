//! `all`: every scenario, each against a freshly started server on a fresh
//! database, then one summary table with the date, the machine and the
//! commit. `--quick` shrinks sizes and phases to finish in under two
//! minutes; its figures are marked n/a where they fall short of a target's
//! conditions.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::cli::{AllArgs, FanoutOpts, HandshakeOpts, IdleOpts, ReconnectOpts, ThroughputOpts};
use crate::report::{self, Row};
use crate::scenarios::{self, Ctx};
use crate::server::{ServerProcess, ServerSpec};

/// Sizes for the full run and the quick one.
pub struct Plan {
    pub idle: IdleOpts,
    pub handshakes: HandshakeOpts,
    pub fanout: FanoutOpts,
    pub throughput: ThroughputOpts,
    pub reconnect: ReconnectOpts,
    pub replay_alerts: usize,
    pub replay_reps: usize,
    /// Hard limit per scenario.
    pub cap: Duration,
}

impl Plan {
    pub fn new(quick: bool) -> Self {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        if quick {
            Self {
                idle: IdleOpts {
                    sockets: 5_000,
                    processes: 2,
                    concurrency: 64,
                    hold: s(2),
                },
                handshakes: HandshakeOpts {
                    rates: vec![5_000],
                    step: s(1),
                    max_sockets: 15_000,
                    warmup: ms(500),
                },
                fanout: FanoutOpts {
                    users: 2_000,
                    rate: 2_000,
                    duration: s(3),
                    connections: 64,
                    probes: 10,
                    probe_interval: ms(100),
                },
                throughput: ThroughputOpts {
                    users: 500,
                    rates: vec![5_000],
                    step: s(2),
                    connections: 128,
                    batch_size: 1_000,
                    batch_concurrency: 4,
                    batch_duration: s(2),
                },
                reconnect: ReconnectOpts {
                    sockets: 2_000,
                    rate: 500,
                    before: s(1),
                    after: s(1),
                    give_up: s(15),
                },
                replay_alerts: 1_000,
                replay_reps: 5,
                cap: s(60),
            }
        } else {
            Self {
                idle: IdleOpts {
                    sockets: 19_500,
                    processes: 4,
                    concurrency: 64,
                    hold: s(5),
                },
                handshakes: HandshakeOpts {
                    rates: vec![2_500, 5_000, 7_500, 10_000],
                    step: s(2),
                    max_sockets: 15_000,
                    warmup: s(1),
                },
                fanout: FanoutOpts {
                    users: 10_000,
                    rate: 2_000,
                    duration: s(10),
                    connections: 64,
                    probes: 20,
                    probe_interval: ms(100),
                },
                throughput: ThroughputOpts {
                    users: 1_000,
                    rates: vec![5_000, 7_500, 10_000, 12_500, 15_000],
                    step: s(4),
                    connections: 128,
                    batch_size: 1_000,
                    batch_concurrency: 4,
                    batch_duration: s(5),
                },
                reconnect: ReconnectOpts {
                    sockets: 10_000,
                    rate: 1_000,
                    before: s(2),
                    after: s(1),
                    give_up: s(30),
                },
                replay_alerts: 1_000,
                replay_reps: 20,
                cap: s(300),
            }
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC` for a Unix time (civil-from-days).
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| crate::procstat::parse_status_kib(&m, "MemTotal"))
        .map_or("?".into(), |kib| {
            format!("{:.1} GiB", kib as f64 / 1_048_576.0)
        });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "?".into());
    let nofile = {
        // SAFETY: getrlimit fills the struct we hand it.
        let mut r: libc::rlimit = unsafe { std::mem::zeroed() };
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) };
        r.rlim_cur
    };
    format!(
        "nproc {cores}, {mem} memory, {cpu}, Linux {}, open-file limit {nofile}",
        kernel.trim()
    )
}

fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

fn git_dirty() -> bool {
    std::process::Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .is_some_and(|o| o.status.success() && !o.stdout.is_empty())
}

fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

enum Which {
    Idle,
    Handshakes,
    Fanout,
    Throughput,
    Reconnect,
    Replay,
    Postgres,
}

impl Which {
    fn name(&self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Handshakes => "handshakes",
            Self::Fanout => "fanout",
            Self::Throughput => "throughput",
            Self::Reconnect => "reconnect",
            Self::Replay => "replay",
            Self::Postgres => "postgres",
        }
    }
    /// Rows to show when the scenario cannot run.
    fn figure(&self) -> (&'static str, &'static str) {
        match self {
            Self::Idle => (
                "authenticated sockets one process holds",
                "≥ 19,500 authenticated",
            ),
            Self::Handshakes => (
                "handshakes (authenticated, open loop)",
                "≥ 5,000/s with p99 ≤ 20 ms",
            ),
            Self::Fanout => (
                "trigger → receive (SQLite)",
                "p99 ≤ 5 ms, p99.9 ≤ 20 ms, none lost or doubled",
            ),
            Self::Throughput => (
                "single triggers and batches",
                "≥ 5,000/s p99 ≤ 50 ms; ≥ 30,000/s",
            ),
            Self::Reconnect => ("reconnect storm", "all back within 10 s, no alert lost"),
            Self::Replay => ("replay of 1,000 missed alerts", "complete within 50 ms"),
            Self::Postgres => ("trigger → receive (PostgreSQL)", "p99 ≤ 10 ms"),
        }
    }
}

pub async fn run(a: AllArgs) -> Result<String, String> {
    if !a.server_bin.is_file() {
        return Err(format!(
            "{} not found: build it first (cargo build --release) or give --server-bin",
            a.server_bin.display()
        ));
    }
    const NAMES: [&str; 7] = [
        "idle",
        "handshakes",
        "fanout",
        "throughput",
        "reconnect",
        "replay",
        "postgres",
    ];
    if let Some(bad) = a.only.iter().find(|o| !NAMES.contains(&o.as_str())) {
        return Err(format!(
            "--only {bad:?}: the scenarios are {}",
            NAMES.join(", ")
        ));
    }
    if a.only.iter().any(|o| o == "postgres") && a.postgres_url.is_none() {
        return Err("--only postgres needs --postgres-url".into());
    }
    let plan = Plan::new(a.quick);
    // What else is running: other processes share these cores and this disk.
    let before = crate::procstat::CpuMeter::start(None);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let background = before.finish();
    let background = format!(
        "other processes {} cores, softirq {} cores{} in the second before the run; load average {}",
        background.others.map_or("?".into(), |o| format!("{o:.2}")),
        background
            .interrupts
            .map_or("?".into(), |o| format!("{o:.2}")),
        background
            .io_stall
            .map_or(String::new(), |p| format!(", I/O stall {:.0}%", p * 100.0)),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("background: {background}");
    let started = Instant::now();
    let date = utc(SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs());
    let tag = random_hex(3);
    let spec = ServerSpec {
        bin: a.server_bin.clone(),
        database_url: None,
        jwt_secret: random_hex(32),
        service_key: format!("load-{}", random_hex(12)),
        base_dir: PathBuf::from(format!("/tmp/alerthub-load-{tag}")),
        keep: a.keep,
    };
    let mut which = vec![
        Which::Idle,
        Which::Handshakes,
        Which::Fanout,
        Which::Throughput,
        Which::Reconnect,
        Which::Replay,
    ];
    if a.postgres_url.is_some() {
        which.push(Which::Postgres);
    }
    if !a.only.is_empty() {
        which.retain(|w| a.only.iter().any(|o| o == w.name()));
    }
    println!(
        "alerthub-load all{}: {} scenario(s), each on a fresh {}",
        if a.quick { " --quick" } else { "" },
        which.len(),
        a.server_bin.display()
    );
    let mut rows: Vec<Row> = Vec::new();
    for w in which {
        let mut spec = spec.clone();
        if let Which::Postgres = w {
            spec.database_url = a.postgres_url.clone();
        }
        println!();
        let server = match ServerProcess::start(&spec, w.name()).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{}: {e}", w.name());
                let (f, t) = w.figure();
                rows.push(Row::failed(f, t, "the server did not start"));
                continue;
            }
        };
        let ctx = match Ctx::new(
            server.addr,
            &spec.jwt_secret,
            "user_id",
            &spec.service_key,
            Some(server.pid),
        ) {
            Ok(c) => c,
            Err(e) => return Err(e),
        };
        let fut = async {
            match w {
                Which::Idle => scenarios::idle::run(&ctx, &plan.idle).await,
                Which::Handshakes => scenarios::handshakes::run(&ctx, &plan.handshakes).await,
                Which::Fanout => {
                    scenarios::fanout::run(&ctx, &plan.fanout, "SQLite", 5.0)
                        .await
                        .rows
                }
                Which::Throughput => scenarios::throughput::run(&ctx, &plan.throughput).await,
                Which::Reconnect => scenarios::reconnect::run(&ctx, &plan.reconnect).await,
                Which::Replay => {
                    scenarios::replay::run(&ctx, plan.replay_alerts, plan.replay_reps).await
                }
                Which::Postgres => {
                    scenarios::fanout::run(&ctx, &plan.fanout, "PostgreSQL", 10.0)
                        .await
                        .rows
                }
            }
        };
        match tokio::time::timeout(plan.cap, fut).await {
            Ok(r) => rows.extend(r),
            Err(_) => {
                let (f, t) = w.figure();
                rows.push(Row::failed(
                    f,
                    t,
                    format!("timed out after {} s", plan.cap.as_secs()),
                ));
            }
        }
        server.stop().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if !a.keep {
        // Each server removed its own directory; this removes their parent.
        let _ = std::fs::remove_dir(&spec.base_dir);
    }
    let commit = git_commit();
    let mut out = String::new();
    out.push_str(&format!(
        "date: {date}\nmachine: {}\nbackground: {background}\ncommit: {commit}{}\ncommand: alerthub-load {}\nserver: {} (fresh process and SQLite file per scenario, RUST_LOG=warn)\ntotal time: {:.0} s\n\n",
        machine(),
        if git_dirty() { " (with uncommitted changes)" } else { "" },
        std::env::args().skip(1).collect::<Vec<_>>().join(" "),
        a.server_bin.display(),
        started.elapsed().as_secs_f64()
    ));
    out.push_str(&report::table(&rows));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_767_225_599), "2025-12-31 23:59:59 UTC");
    }

    #[test]
    fn quick_plan_is_smaller() {
        let q = Plan::new(true);
        let f = Plan::new(false);
        assert!(q.idle.sockets < f.idle.sockets);
        assert!(q.fanout.users < f.fanout.users);
        assert_eq!(f.fanout.users, 10_000);
        assert_eq!(f.fanout.rate, 2_000);
        assert_eq!(f.reconnect.sockets, 10_000);
        assert!(f.idle.sockets >= 19_500);
    }
}
