//! `cluster` (issue 16): N alerthub nodes and M Redis shards, all started
//! by the tool on loopback, sharing one PostgreSQL database. Sockets are
//! spread over every node, no proxy in front: most are held by client
//! processes (as in the idle scenario), and `measured_users` more are
//! opened by this process and record every alert they receive. After the
//! hold, alerts are triggered at a fixed open-loop rate, each on another
//! node than its user's and round robin over every node
//! ([`crate::trigger::cross_node`]), so every alert crosses nodes.
//!
//! Measured: sockets held per node (`/health`), cross-node trigger →
//! receive latency, lost and doubled alerts, each node's CPU and RSS, and
//! each shard's commands and publishes per second (INFO), subscribed
//! channels and CPU during the alerts.
//! With `--windows`, also both latencies per window of the alerts' due
//! times: a tail spread over the run and one made of a few stalls call for
//! different remedies (docs/capacity.md, "Twelfth session"). With
//! `--shard-outage`, one shard is killed and restarted mid-alerts
//! (`outage`).
//!
//! Every node gets all shards' URLs, comma-separated, in the same order, in
//! `REDIS_URL` — the server's sharded mode (docs/protocol.md, "Several
//! nodes"). With one shard that is the single-Redis setup.

mod outage;
mod redis;

use std::net::SocketAddr;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::cli::ClusterOpts;
use crate::fleet::processes::{Layout, ProcessFleet};
use crate::fleet::{Fleet, Tracker};
use crate::http;
use crate::procstat::{self, CpuMeter};
use crate::report::{Row, Unit, Verdict};
use crate::scenarios::Ctx;
use crate::server::{ServerProcess, ServerSpec, random_hex};
use crate::stats::{Ms, thousands};
use crate::trigger::{OpenLoop, drain, open_loop};
use redis::Shard;

/// Starts everything, runs the load, stops everything; the rows.
pub async fn run(o: &ClusterOpts) -> Result<Vec<Row>, String> {
    if o.nodes == 0 || o.shards == 0 {
        return Err("--nodes and --shards must be at least 1".into());
    }
    if !o.server_bin.is_file() {
        return Err(format!("{} not found", o.server_bin.display()));
    }
    let base = PathBuf::from(format!("/tmp/alerthub-load-cluster-{}", random_hex(3)));
    let mut shards = Vec::new();
    for i in 0..o.shards {
        shards.push(Shard::start(&o.redis_bin, &base, &format!("shard{i}"), o.keep).await?);
    }
    let urls: Vec<String> = shards.iter().map(Shard::url).collect();
    println!(
        "cluster: {} Redis shards: {}",
        shards.len(),
        urls.join(", ")
    );
    let spec = ServerSpec {
        bin: o.server_bin.clone(),
        database_url: Some(o.postgres_url.clone()),
        redis_url: Some(urls.join(",")),
        jwt_secret: random_hex(32),
        service_key: format!("load-{}", random_hex(12)),
        base_dir: base.clone(),
        keep: o.keep,
        service_listener: false,
    };
    // The first node migrates the database alone; then the others start.
    let mut nodes = Vec::new();
    for i in 0..o.nodes {
        match ServerProcess::start(&spec, &format!("node{i}")).await {
            Ok(n) => nodes.push(n),
            Err(e) => {
                for n in nodes {
                    n.stop().await;
                }
                return Err(format!("node {i}: {e}"));
            }
        }
    }
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
    println!(
        "  {} nodes: {}",
        nodes.len(),
        addrs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let pids: Vec<u32> = nodes.iter().map(|n| n.pid).collect();
    let ctx = Ctx::new(
        addrs[0],
        &spec.jwt_secret,
        "user_id",
        &spec.service_key,
        None,
    )?;
    let rows = load(o, &ctx, &addrs, &pids, &mut shards).await;
    for n in nodes {
        n.stop().await;
    }
    for s in shards {
        s.stop().await;
    }
    if !o.keep {
        let _ = std::fs::remove_dir_all(&base);
    }
    Ok(rows)
}

async fn load(
    o: &ClusterOpts,
    ctx: &Ctx,
    addrs: &[SocketAddr],
    pids: &[u32],
    shards: &mut [Shard],
) -> Vec<Row> {
    let n = addrs.len();
    let measured = o.measured_users.min(o.sockets);
    let held = o.sockets - measured;
    let deadline = Instant::now()
        + Duration::from_secs(180)
        + o.hold
        + o.duration
        + Duration::from_secs_f64(o.sockets as f64 / 1000.0);
    let started = Instant::now();
    // Held sockets: client processes per node, each node's from its own sources.
    let mut fleets = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        let layout = Layout {
            target: *addr,
            sockets: held / n + usize::from(i < held % n),
            processes: o.processes_per_node,
            concurrency: 64,
            max_life: deadline.saturating_duration_since(Instant::now()),
            prefix: format!("c{}_{i}_", ctx.run),
            first_source: i * o.processes_per_node.clamp(1, 200),
            token_ttl: crate::fleet::TOKEN_TTL,
        };
        match ProcessFleet::spawn(ctx, &layout) {
            Ok(f) => fleets.push(f),
            Err(e) => return vec![Row::failed("cluster sockets", "-", e)],
        }
    }
    let ready_until = Instant::now() + Duration::from_secs(120);
    let mut established = 0;
    for f in &mut fleets {
        let r = f.ready(ready_until).await;
        established += r.established;
        if !r.failure_notes.is_empty() {
            println!("  failures: {}", r.failure_notes.join("; "));
        }
    }
    // Measured users, in this process, user i on node i mod n.
    let count = (o.rate as f64 * o.duration.as_secs_f64()).round() as usize;
    let tracker = Arc::new(Tracker::new(
        Instant::now(),
        format!("C{}-", ctx.run),
        measured.max(1),
        count + 1,
    ));
    let names: Arc<Vec<String>> = Arc::new((0..measured).map(|i| ctx.user("cm", i)).collect());
    let fleet = Fleet::connect_spread(
        ctx,
        addrs,
        tracker.clone(),
        &names,
        128,
        Duration::from_secs(120),
        deadline,
    )
    .await;
    let total = established + fleet.connected() as u64;
    println!(
        "  {} of {} sockets open in {:.1} s ({} held by {} client processes, {} measured)",
        thousands(total),
        thousands(o.sockets as u64),
        started.elapsed().as_secs_f64(),
        thousands(established),
        fleets.iter().map(ProcessFleet::len).sum::<usize>(),
        thousands(fleet.connected() as u64)
    );
    println!("  holding for {:.0} s ...", o.hold.as_secs_f64());
    tokio::time::sleep(o.hold).await;
    let mut per_node = Vec::new();
    for a in addrs {
        per_node.push(http::health_connections(*a).await);
    }
    let held_total: u64 = per_node.iter().map(|c| c.unwrap_or(0)).sum();
    let rss: Vec<u64> = pids
        .iter()
        .map(|p| procstat::process_rss(*p).map_or(0, |r| r.total_kib))
        .collect();

    // Alerts across nodes.
    println!(
        "  alerts: {}/s for {:.0} s, each on another node than its user's ...",
        thousands(o.rate as u64),
        o.duration.as_secs_f64()
    );
    let mut before = Vec::new();
    for s in shards.iter() {
        before.push(s.counters().await);
    }
    let meters: Vec<CpuMeter> = pids.iter().map(|p| CpuMeter::start(Some(*p))).collect();
    let shard_meters: Vec<CpuMeter> = shards.iter().map(|s| CpuMeter::start(s.pid())).collect();
    let t = Instant::now();
    let alerts = open_loop(
        ctx,
        tracker.clone(),
        names.clone(),
        OpenLoop {
            rate: o.rate as f64,
            count: Some(count),
            connections: o.connections,
            stop: Arc::new(AtomicBool::new(false)),
            deadline,
            nodes: addrs.to_vec(),
        },
    );
    let (range, outage) = outage::alongside(
        alerts,
        o.shard_outage,
        shards.last_mut(),
        &names,
        &tracker,
        o.duration / 4,
    )
    .await;
    // The catch-up after an outage takes longer than live delivery.
    let patience = Duration::from_secs(if outage.is_some() { 60 } else { 5 });
    drain(&tracker, range.clone(), patience).await;
    let secs = t.elapsed().as_secs_f64();
    let cpu: Vec<_> = meters.iter().map(CpuMeter::finish).collect();
    let shard_cpu: Vec<_> = shard_meters.iter().map(CpuMeter::finish).collect();
    let mut redis = Vec::new();
    for (s, b) in shards.iter().zip(&before) {
        redis.push(match (b, s.counters().await) {
            (Some(b), Some(a)) => Some((redis::per_second(*b, a, secs), a.channels)),
            _ => None,
        });
    }
    // Memory at the end of the hold: every socket subscribed, no alert yet.
    let memory: Vec<Option<(u64, f64)>> = shards
        .iter()
        .zip(&before)
        .map(|(s, b)| {
            let b = (*b)?;
            Some((b.used_memory, redis::bytes_per_channel(s.fresh_memory, b)?))
        })
        .collect();
    let f = tracker.figures(range.clone());
    if let Some(window) = o.windows {
        print_windows(&tracker, range.clone(), tracker.ns(t), window, secs);
    }
    let a = f.accounting;
    let lat = f.delivery.summary();
    // The first hop on its own: the triggering node answers 201 once the
    // alert is stored and handed to delivery (local sessions and Redis).
    let answer = f.response.summary();
    let misrouted = tracker.misrouted.load(std::sync::atomic::Ordering::Relaxed);
    fleet.stop().await;
    let mut still = 0;
    for fl in &mut fleets {
        still += fl
            .close(Instant::now() + Duration::from_secs(30))
            .await
            .still_open;
    }
    println!(
        "  trigger → receive across nodes: {lat}; lost {} doubled {} failed {} misrouted {misrouted}",
        a.lost, a.duplicated, a.failed
    );
    println!("  trigger → HTTP answer (stored, handed to delivery): {answer}");

    let full =
        o.sockets >= 100_000 && n >= 6 && shards.len() >= 3 && o.rate >= 2_000 && outage.is_none();
    let nodes_text = per_node
        .iter()
        .zip(&rss)
        .enumerate()
        .map(|(i, (c, r))| {
            format!(
                "node{i} {} sockets {} MiB",
                c.map_or("?".into(), thousands),
                r / 1024
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let cpu_text = cpu
        .iter()
        .enumerate()
        .map(|(i, c)| format!("node{i} {:.2}", c.server_cores().unwrap_or(f64::NAN)))
        .collect::<Vec<_>>()
        .join(", ");
    let redis_text = redis
        .iter()
        .zip(&shard_cpu)
        .zip(&memory)
        .enumerate()
        .map(|(i, ((r, c), m))| {
            let cores = c.server_cores().unwrap_or(f64::NAN);
            let mem = m.map_or(String::new(), |(used, per)| {
                format!(" (after the hold {} MiB, {per:.0} B per channel over the fresh shard)", used >> 20)
            });
            let restarted = outage.is_some() && i + 1 == shards.len();
            match r {
                Some(_) if restarted => format!("shard{i} killed and restarted mid-run"),
                Some(((cmds, pubs), channels)) => format!(
                    "shard{i} {pubs:.0} publishes/s, {cmds:.0} commands/s, {channels} channels{mem}, {cores:.2} cores"
                ),
                None => format!("shard{i} ? ({cores:.2} cores)"),
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    let clean = a.lost == 0 && a.duplicated == 0 && a.failed == 0 && misrouted == 0;
    vec![
        Row::new(
            format!("authenticated sockets over {n} nodes, {} Redis shards", shards.len()),
            "100,000 over 6 nodes and 3 shards, held 30 s",
            format!(
                "{} of {} held for {:.0} s ({} still open at the end by the client processes); {nodes_text}",
                thousands(held_total),
                thousands(o.sockets as u64),
                o.hold.as_secs_f64(),
                thousands(still)
            ),
            Verdict::judged(full && o.hold >= Duration::from_secs(30), held_total >= 100_000),
        )
        .headline(held_total as f64, Unit::Sockets),
        Row::new(
            "cross-node trigger → receive",
            "p99 ≤ 10 ms, none lost or doubled",
            format!(
                "{} users over {n} nodes, {}/s for {:.0} s: p50 {} p99 {} p99.9 {} max {} (of which trigger → 201: p50 {} p99 {}); lost {}, doubled {}, failed {}, misrouted {misrouted}",
                thousands(measured as u64),
                thousands(o.rate as u64),
                o.duration.as_secs_f64(),
                Ms(lat.p50_ms()),
                Ms(lat.p99_ms()),
                Ms(lat.p999_ms()),
                Ms(lat.max_ms()),
                Ms(answer.p50_ms()),
                Ms(answer.p99_ms()),
                a.lost,
                a.duplicated,
                a.failed
            ),
            Verdict::judged(full, clean && lat.p99_ms().is_some_and(|p| p <= 10.0)),
        )
        .headline(lat.p99_ms().unwrap_or(f64::NAN), Unit::Ms),
        Row::new("server CPU per node during the alerts", "(no target)", format!("{cpu_text} cores"), Verdict::Info),
        Row::new("Redis per shard during the alerts", "(no target)", redis_text, Verdict::Info),
    ]
    .into_iter()
    .chain(outage.map(|r| match r {
        Ok(down) => outage::row(&down, &tracker, range, measured),
        Err(e) => Row::failed(outage::FIGURE, outage::TARGET, e),
    }))
    .collect()
}

/// The alerts due in each `window` from `start_ns` (the tracker's clock):
/// trigger → 201 and trigger → receive, so a stall shows as the window it
/// fell in.
fn print_windows(
    tracker: &Tracker,
    range: Range<usize>,
    start_ns: u64,
    window: Duration,
    secs: f64,
) {
    let w = window.as_nanos().max(1) as u64;
    for k in 0..(secs * 1e9 / w as f64).ceil() as u64 {
        let (lo, hi) = (start_ns + k * w, start_ns + (k + 1) * w);
        let g = tracker.figures_where(range.clone(), |_, due| (lo..hi).contains(&due));
        if g.accounting.sent == 0 {
            continue;
        }
        println!(
            "  window {:>7.3} s: 201 {} | receive {}",
            (k * w) as f64 / 1e9,
            g.response.summary(),
            g.delivery.summary()
        );
    }
}
