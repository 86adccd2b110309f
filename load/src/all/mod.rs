//! `all`: every scenario, each against a freshly started alerthub on a
//! fresh database and then, with the same sizes and the same client fleet,
//! against a fresh reference server (`alerthub-reference`); one report
//! with each figure beside the reference's and the ratio, the run's facts
//! (date, machine, background load, command, commit), and optionally that
//! report written into docs/BENCHMARKS.md. `--quick` shrinks sizes and
//! phases for smoke tests; its figures read n/a where they fall short of a
//! target's conditions.

mod machine;
mod output;
mod plan;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::cli::AllArgs;
use crate::procstat::{self, CpuMeter};
use crate::report::{Row, doc};
use crate::scenarios::{Ctx, Scenario};
use crate::server::{ServerProcess, ServerSpec, random_hex};
use machine::utc;
use output::RunFacts;
use plan::{NAMES, Plan};

/// alerthub-reference beside this executable (both are built together).
fn default_reference_bin() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("alerthub-reference")))
        .unwrap_or_else(|| PathBuf::from("target/release/alerthub-reference"))
}

/// Whether `bin` has the services listener (`--service-bind`, from
/// a67a00d on): an older build is measured on its one port.
fn has_service_listener(bin: &Path) -> bool {
    std::process::Command::new(bin)
        .args(["serve", "--help"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--service-bind"))
}

fn check_args(a: &AllArgs, reference: Option<&Path>) -> Result<(), String> {
    for bin in std::iter::once(a.server_bin.as_path()).chain(reference) {
        if !bin.is_file() {
            return Err(format!(
                "{} not found: build it first (cargo build --release --workspace) or give its path",
                bin.display()
            ));
        }
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
    if !doc::valid_section(&a.doc_section) {
        return Err(format!(
            "--doc-section {:?}: letters, digits and dashes",
            a.doc_section
        ));
    }
    if let Some(d) = &a.write_doc {
        // Fail now rather than after the run.
        let text = std::fs::read_to_string(d).map_err(|e| format!("{}: {e}", d.display()))?;
        doc::splice(&text, &a.doc_section, "").map_err(|e| format!("{}: {e}", d.display()))?;
    }
    Ok(())
}

/// One scenario on one fresh server; its rows (a failed row if it could not run).
async fn run_on(spec: &ServerSpec, dir: &str, s: &dyn Scenario, cap: Duration) -> Vec<Row> {
    let mut spec = spec.clone();
    spec.database_url = s.database_url().map(str::to_owned);
    println!("\n[{dir}: {}]", spec.bin.display());
    let server = match ServerProcess::start(&spec, dir).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("{dir}: {e}");
            let (f, t) = s.figure();
            return vec![Row::failed(f, t, "the server did not start")];
        }
    };
    let rows = match Ctx::new(
        server.addr,
        &spec.jwt_secret,
        "user_id",
        &spec.service_key,
        Some(server.pid),
    )
    .map(|ctx| ctx.with_service(server.service_addr))
    {
        Ok(ctx) => match tokio::time::timeout(cap, s.run(&ctx)).await {
            Ok(rows) => rows,
            Err(_) => {
                let (f, t) = s.figure();
                vec![Row::failed(
                    f,
                    t,
                    format!("timed out after {} s", cap.as_secs()),
                )]
            }
        },
        Err(e) => {
            let (f, t) = s.figure();
            vec![Row::failed(f, t, e)]
        }
    };
    server.stop().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    rows
}

pub async fn run(a: AllArgs) -> Result<String, String> {
    let reference_bin = (!a.no_reference).then(|| {
        a.reference_bin
            .clone()
            .unwrap_or_else(default_reference_bin)
    });
    check_args(&a, reference_bin.as_deref())?;
    let plan = Plan::new(a.quick);
    // What else is running: other processes share these cores and this disk.
    let load_before = procstat::load_average();
    let quiet = CpuMeter::start(None);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let quiet = quiet.finish();
    println!(
        "background: {} in the second before the run; load average {load_before}",
        output::describe_background(&quiet)
    );
    let whole = output::RunMeter::start();
    let date = utc(SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs());
    let started = Instant::now();
    let spec = ServerSpec {
        bin: a.server_bin.clone(),
        database_url: None,
        redis_url: None,
        jwt_secret: random_hex(32),
        service_key: format!("load-{}", random_hex(12)),
        base_dir: PathBuf::from(format!("/tmp/alerthub-load-{}", random_hex(3))),
        keep: a.keep,
        service_listener: !a.one_listener && has_service_listener(&a.server_bin),
    };
    let reference = reference_bin.clone().map(|bin| ServerSpec {
        bin,
        service_listener: false,
        ..spec.clone()
    });
    let mut scenarios = plan.scenarios(a.postgres_url.as_deref());
    if !a.only.is_empty() {
        scenarios.retain(|s| a.only.iter().any(|o| o == s.name()));
    }
    println!(
        "alerthub-load all{}: {} scenario(s), each on a fresh {}{}",
        if a.quick { " --quick" } else { "" },
        scenarios.len(),
        a.server_bin.display(),
        reference.as_ref().map_or(String::new(), |r| format!(
            " and a fresh {}",
            r.bin.display()
        ))
    );
    let (mut alerthub, mut measured_reference) = (Vec::new(), Vec::new());
    for s in &scenarios {
        alerthub.extend(run_on(&spec, s.name(), s.as_ref(), plan.cap).await);
        if let Some(r) = &reference {
            let dir = format!("{}-reference", s.name());
            measured_reference.extend(run_on(r, &dir, s.as_ref(), plan.cap).await);
        }
    }
    if !a.keep {
        // Each server removed its own directory; this removes their parent.
        let _ = std::fs::remove_dir(&spec.base_dir);
    }
    let facts = RunFacts {
        date,
        quick: a.quick,
        server_bin: format!(
            "{}{}",
            a.server_bin.display(),
            if spec.service_listener {
                ", services on a listener of their own (ALERTHUB_SERVICE_BIND), where the triggers go"
            } else if a.one_listener {
                ", one listener (--one-listener): triggers share the HTTP workers with the handshakes"
            } else {
                ", one listener (this build has no ALERTHUB_SERVICE_BIND): triggers share the HTTP workers with the handshakes"
            }
        ),
        reference_bin: reference_bin.map(|b| b.display().to_string()),
        load_before,
        load_after: procstat::load_average(),
        quiet,
        whole: whole.finish(),
        total: started.elapsed(),
    };
    let report = output::report(
        &facts,
        &alerthub,
        reference.as_ref().map(|_| &measured_reference[..]),
    );
    if let Some(d) = &a.write_doc {
        let text = std::fs::read_to_string(d).map_err(|e| format!("{}: {e}", d.display()))?;
        let text = doc::splice(&text, &a.doc_section, &report)?;
        std::fs::write(d, text).map_err(|e| format!("{}: {e}", d.display()))?;
        println!("wrote section {:?} of {}", a.doc_section, d.display());
    }
    Ok(report)
}
