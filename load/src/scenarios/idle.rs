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
use crate::report::{Row, Unit, Verdict};
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
        first_source: 0,
        token_ttl: o.token_ttl,
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
    let hold_meter = CpuMeter::start(Some(pid));
    tokio::time::sleep(o.hold).await;
    let hold_cpu = hold_meter.finish();
    let server_says_late = http::health_connections(ctx.addr).await;

    let done = children
        .close(Instant::now() + Duration::from_secs(30))
        .await;
    let (still_open, children_cpu) = (done.still_open, done.cpu);
    let mut cpu = meter.finish();
    cpu.tool += children_cpu;
    // The server lets go of the closed sockets; 2 s later, how much memory it kept.
    let closed_at = http::wait_for_no_connections(ctx.addr, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let closed = procstat::process_rss(pid).unwrap_or_default();
    let held = still_open.min(established);
    let f = IdleFigures {
        sockets: established,
        rss_before_kib: before.total_kib,
        rss_open_kib: after.total_kib,
        rss_closed_kib: closed.total_kib,
        hold_cpu_secs: hold_cpu.server.unwrap_or(f64::NAN),
        hold: hold_cpu.wall,
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
        f.rss_per_socket_kib(),
        anon_per
    );
    println!(
        "  server CPU while holding: {:.3} µs per socket per second ({})",
        f.cpu_us_per_socket_second(),
        hold_cpu.describe()
    );
    println!(
        "  {}; 2 s later VmRSS {} KiB = {:.2}× the fresh {} KiB",
        if closed_at {
            "the server counts no connection"
        } else {
            "the server still counted connections after 30 s"
        },
        thousands(closed.total_kib),
        f.closed_ratio(),
        thousands(before.total_kib)
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
        .cpu(cpu)
        .headline(held as f64, Unit::Sockets),
        Row::new(
            rss_figure,
            "≤ 6 KiB at 19,500 sockets",
            format!(
                "{:.2} KiB (VmRSS {} → {} KiB over {} sockets; anon {anon_per:.2} KiB/socket)",
                f.rss_per_socket_kib(),
                thousands(before.total_kib),
                thousands(after.total_kib),
                thousands(established)
            ),
            Verdict::judged(full, f.rss_per_socket_kib() <= 6.0),
        )
        .headline(f.rss_per_socket_kib(), Unit::KibPerSocket),
        Row::new(
            "server CPU per idle socket (heartbeats on)",
            "≤ 1 µs per socket per second",
            format!(
                "{:.3} µs per socket per second ({:.2} CPU s over {:.0} s with {} sockets)",
                f.cpu_us_per_socket_second(),
                f.hold_cpu_secs,
                f.hold.as_secs_f64(),
                thousands(established)
            ),
            Verdict::judged(
                full && o.hold >= HEARTBEAT_ROUNDS,
                f.cpu_us_per_socket_second() <= 1.0,
            ),
        )
        .cpu(hold_cpu)
        .headline(f.cpu_us_per_socket_second(), Unit::UsPerSocketSecond),
        Row::new(
            "RSS 2 s after all sockets closed",
            "≤ 2× the fresh process",
            format!(
                "{:.2}× (VmRSS fresh {} KiB, open {} KiB, closed {} KiB)",
                f.closed_ratio(),
                thousands(before.total_kib),
                thousands(after.total_kib),
                thousands(closed.total_kib)
            ),
            Verdict::judged(full && closed_at, f.closed_ratio() <= 2.0),
        )
        .headline(f.closed_ratio(), Unit::TimesFresh),
    ]
}

/// Three 15 s rounds of the server's pings.
const HEARTBEAT_ROUNDS: Duration = Duration::from_secs(45);

/// What the idle scenario measured, and the figures derived from it.
#[derive(Debug, Clone, Copy)]
struct IdleFigures {
    sockets: u64,
    rss_before_kib: u64,
    rss_open_kib: u64,
    rss_closed_kib: u64,
    /// Server CPU seconds over the hold.
    hold_cpu_secs: f64,
    hold: Duration,
}

impl IdleFigures {
    fn rss_per_socket_kib(&self) -> f64 {
        if self.sockets == 0 {
            return f64::NAN;
        }
        self.rss_open_kib.saturating_sub(self.rss_before_kib) as f64 / self.sockets as f64
    }
    fn cpu_us_per_socket_second(&self) -> f64 {
        let secs = self.hold.as_secs_f64();
        if self.sockets == 0 || secs <= 0.0 {
            return f64::NAN;
        }
        self.hold_cpu_secs * 1e6 / self.sockets as f64 / secs
    }
    fn closed_ratio(&self) -> f64 {
        if self.rss_before_kib == 0 {
            return f64::NAN;
        }
        self.rss_closed_kib as f64 / self.rss_before_kib as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_figures_divide_as_the_issue_defines_them() {
        let f = IdleFigures {
            sockets: 19_500,
            rss_before_kib: 18_000,
            rss_open_kib: 18_000 + 19_500 * 6,
            rss_closed_kib: 36_000,
            hold_cpu_secs: 0.8775,
            hold: Duration::from_secs(45),
        };
        assert_eq!(f.rss_per_socket_kib(), 6.0);
        assert!((f.cpu_us_per_socket_second() - 1.0).abs() < 1e-9);
        assert_eq!(f.closed_ratio(), 2.0);
        let none = IdleFigures {
            sockets: 0,
            rss_before_kib: 0,
            ..f
        };
        assert!(none.rss_per_socket_kib().is_nan());
        assert!(none.cpu_us_per_socket_second().is_nan());
        assert!(none.closed_ratio().is_nan());
    }
}
