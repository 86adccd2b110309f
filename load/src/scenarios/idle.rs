//! Idle sockets: how many authenticated sockets one server process holds,
//! and its RSS per socket (VmRSS with them open, minus VmRSS before, over
//! the number of sockets; the server should be freshly started).
//!
//! One process may hold 20,000 descriptors, so the sockets are opened by
//! several child processes of this tool ([`crate::fleet::processes`]), each
//! from its own loopback source address.

use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use super::{Ctx, Scenario};
use crate::cli::IdleOpts;
use crate::fleet::processes::{Layout, ProcessFleet, Ready};
use crate::http;
use crate::procstat::{self, CpuMeter};
use crate::report::{Row, Verdict};
use crate::stats::thousands;

/// The idle scenario with its sizes.
pub struct Idle(pub IdleOpts);

impl Scenario for Idle {
    fn name(&self) -> &'static str {
        "idle"
    }
    fn figure(&self) -> (&'static str, &'static str) {
        (
            "authenticated sockets one process holds",
            "≥ 19,500 authenticated",
        )
    }
    fn run<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Vec<Row>> {
        Box::pin(run(ctx, &self.0))
    }
}

async fn run(ctx: &Ctx, o: &IdleOpts) -> Vec<Row> {
    let sockets_figure = "authenticated sockets one process holds";
    let rss_figure = "RSS per idle socket";
    let Some(pid) = ctx.server_pid else {
        return vec![Row::failed(
            sockets_figure,
            "≥ 19,500",
            "server pid unknown (give --server-pid)",
        )];
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = procstat::process_rss(pid).unwrap_or_default();
    let fds_before = procstat::fd_count(pid).unwrap_or(0);
    println!(
        "idle sockets: server pid {pid}: VmRSS {} KiB (anon {} KiB, file {} KiB), {} threads, {} fds before",
        before.total_kib, before.anon_kib, before.file_kib, before.threads, fds_before
    );
    let meter = CpuMeter::start(Some(pid));
    let started = Instant::now();
    let layout = Layout {
        target: ctx.addr,
        sockets: o.sockets,
        processes: o.processes,
        concurrency: o.concurrency,
        max_life: Duration::from_secs(120) + o.hold,
        prefix: format!("i{}_", ctx.run),
    };
    let mut children = match ProcessFleet::spawn(ctx, &layout) {
        Ok(c) => c,
        Err(e) => return vec![Row::failed(sockets_figure, "≥ 19,500", e)],
    };
    let ready_until = Instant::now()
        + Duration::from_secs(60)
        + Duration::from_secs_f64(o.sockets as f64 / 500.0);
    let Ready {
        established,
        failed,
        failure_notes,
    } = children.ready(ready_until).await;
    let open_secs = started.elapsed().as_secs_f64();
    println!(
        "  {} of {} established in {:.1} s by {} processes{}",
        thousands(established),
        thousands(o.sockets as u64),
        open_secs,
        children.len(),
        if failure_notes.is_empty() {
            String::new()
        } else {
            format!(" (failures: {})", failure_notes.join("; "))
        }
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = procstat::process_rss(pid).unwrap_or_default();
    let fds_after = procstat::fd_count(pid).unwrap_or(0);
    let server_says = http::health_connections(ctx.addr).await;
    println!(
        "  with them open: VmRSS {} KiB (anon {} KiB, file {} KiB), {} threads, {} fds; /health connections: {}",
        after.total_kib,
        after.anon_kib,
        after.file_kib,
        after.threads,
        fds_after,
        server_says.map_or("no answer".into(), |n| n.to_string())
    );
    println!("  holding for {:.0} s ...", o.hold.as_secs_f64());
    tokio::time::sleep(o.hold).await;
    let server_says_late = http::health_connections(ctx.addr).await;

    let done = children
        .close(Instant::now() + Duration::from_secs(30))
        .await;
    let (still_open, children_cpu) = (done.still_open, done.cpu);
    let mut cpu = meter.finish();
    cpu.tool += children_cpu;
    let held = still_open.min(established);
    let delta_kib = after.total_kib.saturating_sub(before.total_kib);
    let per_socket = if established > 0 {
        delta_kib as f64 / established as f64
    } else {
        f64::NAN
    };
    let anon_per = if established > 0 {
        after.anon_kib.saturating_sub(before.anon_kib) as f64 / established as f64
    } else {
        f64::NAN
    };
    println!(
        "  held through the hold: {} (server's count after the hold: {}); RSS per socket {:.2} KiB (anon {:.2} KiB)",
        thousands(held),
        server_says_late.map_or("no answer".into(), |n| n.to_string()),
        per_socket,
        anon_per
    );
    println!("  cpu: {}", cpu.describe());
    let full = o.sockets >= 19_500;
    vec![
        Row::new(
            sockets_figure,
            "≥ 19,500 authenticated",
            format!(
                "{} of {} held for {:.0} s (opened in {:.1} s; server fds {} → {}){}",
                thousands(held),
                thousands(o.sockets as u64),
                o.hold.as_secs_f64(),
                open_secs,
                fds_before,
                fds_after,
                if failed > 0 {
                    format!("; {failed} failed to connect")
                } else {
                    String::new()
                }
            ),
            Verdict::judged(full, held >= 19_500),
        )
        .cpu(cpu),
        Row::new(
            rss_figure,
            "≤ 6 KiB",
            format!(
                "{per_socket:.2} KiB (VmRSS {} → {} KiB over {} sockets; anon {anon_per:.2} KiB/socket)",
                thousands(before.total_kib),
                thousands(after.total_kib),
                thousands(established)
            ),
            Verdict::judged(established >= 5_000, per_socket <= 6.0),
        ),
    ]
}
