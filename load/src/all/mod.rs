//! `all`: every scenario, each against a freshly started server on a fresh
//! database, then one summary table with the date, the machine and the
//! commit. `--quick` shrinks sizes and phases to finish in under two
//! minutes; its figures are marked n/a where they fall short of a target's
//! conditions.

mod machine;
mod plan;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::cli::AllArgs;
use crate::report::{self, Row};
use crate::scenarios::Ctx;
use crate::server::{ServerProcess, ServerSpec};
use machine::{git_commit, git_dirty, machine, utc};
use plan::{NAMES, Plan};

fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

pub async fn run(a: AllArgs) -> Result<String, String> {
    if !a.server_bin.is_file() {
        return Err(format!(
            "{} not found: build it first (cargo build --release) or give --server-bin",
            a.server_bin.display()
        ));
    }
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
    let mut scenarios = plan.scenarios(a.postgres_url.as_deref());
    if !a.only.is_empty() {
        scenarios.retain(|s| a.only.iter().any(|o| o == s.name()));
    }
    println!(
        "alerthub-load all{}: {} scenario(s), each on a fresh {}",
        if a.quick { " --quick" } else { "" },
        scenarios.len(),
        a.server_bin.display()
    );
    let mut rows: Vec<Row> = Vec::new();
    for s in &scenarios {
        let mut spec = spec.clone();
        spec.database_url = s.database_url().map(str::to_owned);
        println!();
        let server = match ServerProcess::start(&spec, s.name()).await {
            Ok(server) => server,
            Err(e) => {
                eprintln!("{}: {e}", s.name());
                let (f, t) = s.figure();
                rows.push(Row::failed(f, t, "the server did not start"));
                continue;
            }
        };
        let ctx = Ctx::new(
            server.addr,
            &spec.jwt_secret,
            "user_id",
            &spec.service_key,
            Some(server.pid),
        )?;
        match tokio::time::timeout(plan.cap, s.run(&ctx)).await {
            Ok(r) => rows.extend(r),
            Err(_) => {
                let (f, t) = s.figure();
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
