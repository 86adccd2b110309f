//! alerthub-load: the load tool that ships with alerthub. It speaks only
//! the wire contract (WebSocket + REST), targets loopback only, and every
//! phase is bounded in time. See docs/BENCHMARKS.md.
//!
//! Layout: `cli` (the grammar) → `all` (every scenario on fresh servers,
//! `server`) → `scenarios` (one file per load) → `fleet` (the sockets and
//! the books on what arrived) and `trigger` (the alerts sent) → `ws`,
//! `http`, `jwt` (the wire) ; `stats`, `procstat` and `report` (figures).

mod all;
mod cli;
mod fleet;
mod http;
mod jwt;
mod procstat;
mod report;
mod scenarios;
mod server;
mod stats;
mod trigger;
mod ws;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, Target};
use scenarios::fanout::{Backend, Fanout};
use scenarios::{Ctx, Scenario};

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
    let rt = match runtime_for(&cli.command).enable_all().build() {
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

/// A client process that holds sockets (`idle-child`) runs on one thread:
/// its work is answering pings, which a second worker only hands back and
/// forth (this and one timer per held socket instead of one per frame: ≈ 11%
/// less CPU per pong; docs/BENCHMARKS.md, "Fifteenth session"). Every other
/// command uses both cores: it opens, triggers and measures at once.
fn runtime_for(command: &Command) -> tokio::runtime::Builder {
    if matches!(command, Command::IdleChild(_)) {
        return tokio::runtime::Builder::new_current_thread();
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(threads);
    builder
}

/// A scenario subcommand: the server it targets and the load to run.
fn scenario(command: Command) -> Option<(Target, Box<dyn Scenario>)> {
    use scenarios::{handshakes, idle, reads, reconnect, replay, throughput};
    Some(match command {
        Command::Idle { target, opts } => (target, Box::new(idle::Idle(opts))),
        Command::Handshakes { target, opts } => (target, Box::new(handshakes::Handshakes(opts))),
        Command::Fanout { target, opts } | Command::Ping { target, opts } => (
            target,
            Box::new(Fanout {
                opts,
                backend: Backend::Sqlite,
            }),
        ),
        Command::Throughput { target, opts } => (target, Box::new(throughput::Throughput(opts))),
        Command::Reconnect { target, opts } => (target, Box::new(reconnect::Reconnect(opts))),
        Command::Replay { target, opts } => (target, Box::new(replay::Replay(opts))),
        Command::Reads { target, opts } => (target, Box::new(reads::Reads(opts))),
        Command::All(_) | Command::Cluster(_) | Command::IdleChild(_) => return None,
    })
}

async fn run(cli: Cli) -> ExitCode {
    let command = match cli.command {
        Command::IdleChild(a) => return ExitCode::from(fleet::processes::child(a).await as u8),
        Command::All(a) => return run_all(a).await,
        Command::Cluster(o) => return run_cluster(o).await,
        scenario => scenario,
    };
    let Some((target, load)) = scenario(command) else {
        eprintln!("alerthub-load: not a scenario");
        return ExitCode::FAILURE;
    };
    match Ctx::from_target(&target) {
        Ok(ctx) => {
            let rows = load.run(&ctx).await;
            println!("\n{}", report::table(&rows));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("alerthub-load: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_cluster(o: cli::ClusterOpts) -> ExitCode {
    match scenarios::cluster::run(&o).await {
        Ok(rows) => {
            let table = report::table(&rows);
            println!("\n{table}");
            if let Some(p) = &o.summary_out
                && let Err(e) = std::fs::write(p, &table)
            {
                eprintln!("alerthub-load: {}: {e}", p.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("alerthub-load: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_all(a: cli::AllArgs) -> ExitCode {
    let out_path = a.summary_out.clone();
    match all::run(a).await {
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
    }
}
