//! Idle sockets: how many authenticated sockets one server process holds,
//! and its RSS per socket (VmRSS with them open, minus VmRSS before, over
//! the number of sockets; the server should be freshly started).
//!
//! One process may hold 20,000 descriptors, so the sockets are opened by
//! several child processes of this tool (`idle-child`), each from its own
//! loopback source address. A child prints `READY {json}` once its sockets
//! are open, holds them until its stdin closes, then prints `DONE {json}`.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::{Semaphore, watch};
use tokio_tungstenite::tungstenite::Message;

use super::{CONNECT_TIMEOUT, Ctx, Failures, thousands};
use crate::cli::{IdleChildArgs, IdleOpts};
use crate::http;
use crate::jwt::Minter;
use crate::procstat::{self, CpuMeter};
use crate::report::{Row, Verdict};
use crate::ws;

struct ChildProc {
    child: Child,
    lines: tokio::io::Lines<BufReader<ChildStdout>>,
}

async fn next_json(c: &mut ChildProc, tag: &str, until: Instant) -> Option<Value> {
    loop {
        let line = tokio::time::timeout_at(until.into(), c.lines.next_line())
            .await
            .ok()?
            .ok()??;
        if let Some(rest) = line.strip_prefix(tag) {
            return serde_json::from_str(rest.trim()).ok();
        }
    }
}

pub async fn run(ctx: &Ctx, o: &IdleOpts) -> Vec<Row> {
    let sockets_figure = "authenticated sockets one process holds";
    let rss_figure = "RSS per idle socket";
    let Some(pid) = ctx.server_pid else {
        return vec![Row::failed(
            sockets_figure,
            "≥ 19,500",
            "server pid unknown (give --server-pid)",
        )];
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            return vec![Row::failed(
                sockets_figure,
                "≥ 19,500",
                format!("own path: {e}"),
            )];
        }
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = procstat::process_rss(pid).unwrap_or_default();
    let fds_before = procstat::fd_count(pid).unwrap_or(0);
    println!(
        "idle sockets: server pid {pid}: VmRSS {} KiB (anon {} KiB, file {} KiB), {} threads, {} fds before",
        before.total_kib, before.anon_kib, before.file_kib, before.threads, fds_before
    );
    let processes = o.processes.clamp(1, 200);
    let per = o.sockets.div_ceil(processes);
    let meter = CpuMeter::start(Some(pid));
    let started = Instant::now();
    let mut children = Vec::new();
    let mut remaining = o.sockets;
    for i in 0..processes {
        let count = per.min(remaining);
        if count == 0 {
            break;
        }
        remaining -= count;
        let mut cmd = Command::new(&exe);
        cmd.arg("idle-child")
            .arg("--url")
            .arg(format!("http://{}", ctx.addr))
            .arg("--prefix")
            .arg(format!("i{}_{i}_", ctx.run))
            .arg("--count")
            .arg(count.to_string())
            .arg("--concurrency")
            .arg(o.concurrency.to_string())
            .arg("--user-claim")
            .arg(&ctx.user_claim)
            .arg("--max-life")
            .arg(format!("{}s", 120 + o.hold.as_secs()))
            .env("ALERTHUB_JWT_SECRET", &ctx.jwt_secret)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if ctx.addr.is_ipv4() {
            cmd.arg("--source-ip").arg(format!("127.0.1.{}", 10 + i));
        }
        match cmd.spawn() {
            Ok(mut child) => {
                let stdout = child.stdout.take().expect("piped");
                children.push(ChildProc {
                    child,
                    lines: BufReader::new(stdout).lines(),
                });
            }
            Err(e) => {
                return vec![Row::failed(
                    sockets_figure,
                    "≥ 19,500",
                    format!("spawn: {e}"),
                )];
            }
        }
    }
    let ready_until = Instant::now()
        + Duration::from_secs(60)
        + Duration::from_secs_f64(o.sockets as f64 / 500.0);
    let (mut established, mut failed) = (0u64, 0u64);
    let mut failure_notes = Vec::new();
    for c in &mut children {
        match next_json(c, "READY", ready_until).await {
            Some(v) => {
                established += v["established"].as_u64().unwrap_or(0);
                failed += v["failed"].as_u64().unwrap_or(0);
                if let Some(f) = v["failures"].as_str().filter(|f| !f.is_empty()) {
                    failure_notes.push(f.to_owned());
                }
            }
            None => failure_notes.push("a client process never got ready".into()),
        }
    }
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

    // Let go: closing a child's stdin tells it to close its sockets.
    let mut still_open = 0u64;
    let mut children_cpu = 0.0;
    for c in &mut children {
        drop(c.child.stdin.take());
    }
    let done_until = Instant::now() + Duration::from_secs(30);
    for c in &mut children {
        if let Some(v) = next_json(c, "DONE", done_until).await {
            still_open += v["still_open"].as_u64().unwrap_or(0);
            children_cpu += v["cpu"].as_f64().unwrap_or(0.0);
        }
        let _ = tokio::time::timeout_at(done_until.into(), c.child.wait()).await;
        let _ = c.child.start_kill();
    }
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

/// One client process: open `count` sockets, hold them, report.
pub async fn child(a: IdleChildArgs) -> i32 {
    let minter = match Minter::new(&a.jwt_secret, &a.user_claim) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("idle-child: {e}");
            return 2;
        }
    };
    let deadline = Instant::now() + a.max_life;
    let sem = Arc::new(Semaphore::new(a.concurrency.max(1)));
    let open = Arc::new(AtomicUsize::new(0));
    let attempted = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Failures::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::with_capacity(a.count);
    for i in 0..a.count {
        let user = format!("{}{i}", a.prefix);
        let token = minter.mint(&user, super::TOKEN_TTL);
        let (sem, open, attempted, failures, mut stop) = (
            sem.clone(),
            open.clone(),
            attempted.clone(),
            failures.clone(),
            stop_rx.clone(),
        );
        let (addr, source) = (a.url, a.source_ip);
        tasks.push(tokio::spawn(async move {
            let permit = sem.acquire_owned().await;
            let path = ws::session_path(&user, &token, None);
            let opened = ws::open(addr, source, &path, CONNECT_TIMEOUT).await;
            drop(permit);
            attempted.fetch_add(1, Relaxed);
            let mut socket = match opened {
                Ok(s) => s,
                Err(e) => {
                    failures.add(e.label());
                    return;
                }
            };
            open.fetch_add(1, Relaxed);
            // Hold: answer the server's pings (tungstenite does on read) until told to stop.
            loop {
                tokio::select! {
                    msg = socket.next() => match msg {
                        Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                            open.fetch_sub(1, Relaxed);
                            return;
                        }
                        Some(Ok(_)) => {}
                    },
                    _ = stop.changed() => break,
                    _ = tokio::time::sleep_until(deadline.into()) => break,
                }
            }
            let _ = tokio::time::timeout(Duration::from_millis(500), socket.close(None)).await;
        }));
    }
    while attempted.load(Relaxed) < a.count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let established = open.load(Relaxed);
    println!(
        "READY {}",
        json!({
            "established": established,
            "failed": a.count - established,
            "failures": failures.describe(),
        })
    );
    // Hold until the parent closes our stdin (or our life ends).
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    loop {
        match tokio::time::timeout_at(deadline.into(), stdin.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(_)) => {}
        }
    }
    let still_open = open.load(Relaxed);
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    println!(
        "DONE {}",
        json!({ "still_open": still_open, "cpu": procstat::own_cpu() })
    );
    0
}
