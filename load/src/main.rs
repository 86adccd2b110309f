//! alerthub-load: the load tool that ships with alerthub. It speaks only
//! the wire contract (WebSocket + REST), targets loopback only, and every
//! phase is bounded in time. See docs/BENCHMARKS.md.

mod accounting;
mod all;
mod cli;
mod http;
mod jwt;
mod procstat;
mod report;
mod scenarios;
mod server;
mod stats;
mod ws;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use scenarios::Ctx;

/// Up to the hard limit: the tool holds many sockets.
fn raise_nofile() {
    // SAFETY: getrlimit/setrlimit on our own process with a valid struct.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    raise_nofile();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("alerthub-load: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = rt.block_on(run(cli));
    // Tasks still holding sockets must not keep the process alive.
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    code
}

async fn run(cli: Cli) -> ExitCode {
    let rows = match cli.command {
        Command::IdleChild(a) => {
            return ExitCode::from(scenarios::idle::child(a).await as u8);
        }
        Command::All(a) => {
            let out_path = a.summary_out.clone();
            return match all::run(a).await {
                Ok(summary) => {
                    println!("\n{summary}");
                    if let Some(p) = out_path
                        && let Err(e) = std::fs::write(&p, &summary)
                    {
                        eprintln!("alerthub-load: {}: {e}", p.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("alerthub-load: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        Command::Idle { target, opts } => match Ctx::from_target(&target) {
            Ok(ctx) => Ok(scenarios::idle::run(&ctx, &opts).await),
            Err(e) => Err(e),
        },
        Command::Handshakes { target, opts } => match Ctx::from_target(&target) {
            Ok(ctx) => Ok(scenarios::handshakes::run(&ctx, &opts).await),
            Err(e) => Err(e),
        },
        Command::Fanout { target, opts } | Command::Ping { target, opts } => {
            match Ctx::from_target(&target) {
                Ok(ctx) => Ok(scenarios::fanout::run(&ctx, &opts, "SQLite", 5.0)
                    .await
                    .rows),
                Err(e) => Err(e),
            }
        }
        Command::Throughput { target, opts } => match Ctx::from_target(&target) {
            Ok(ctx) => Ok(scenarios::throughput::run(&ctx, &opts).await),
            Err(e) => Err(e),
        },
        Command::Reconnect { target, opts } => match Ctx::from_target(&target) {
            Ok(ctx) => Ok(scenarios::reconnect::run(&ctx, &opts).await),
            Err(e) => Err(e),
        },
        Command::Replay { target, opts } => match Ctx::from_target(&target) {
            Ok(ctx) => Ok(scenarios::replay::run(&ctx, opts.alerts, opts.reps).await),
            Err(e) => Err(e),
        },
    };
    match rows {
        Ok(rows) => {
            println!("\n{}", report::table(&rows));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("alerthub-load: {e}");
            ExitCode::FAILURE
        }
    }
}
