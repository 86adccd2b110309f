//! Fan-out: N users connected, alerts triggered through REST at a fixed
//! open-loop rate (round robin over the users), trigger-to-receive latency
//! and lost / doubled alerts. Ping probes run alongside: the round trip of
//! an application `ping` under that load.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use super::{Ctx, Scenario};
use crate::cli::FanoutOpts;
use crate::fleet::{CONNECT_TIMEOUT, Fleet, TOKEN_TTL, Tracker};
use crate::procstat::CpuMeter;
use crate::report::{Row, Unit, Verdict};
use crate::stats::{Ms, Samples, Summary, thousands};
use crate::trigger::{OpenLoop, drain, open_loop};
use crate::ws::{self, ServerFrame};

/// The store behind the server, which names the row and sets its target.
pub enum Backend {
    Sqlite,
    /// PostgreSQL at this URL (the database must exist).
    Postgres(String),
}

/// The fan-out with its sizes, on one backend.
pub struct Fanout {
    pub opts: FanoutOpts,
    pub backend: Backend,
}

impl Fanout {
    fn label(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }
    fn p99_target_ms(&self) -> f64 {
        match self.backend {
            Backend::Sqlite => 3.0,
            Backend::Postgres(_) => 5.0,
        }
    }
}

impl Scenario for Fanout {
    fn name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "fanout",
            Backend::Postgres(_) => "postgres",
        }
    }
    fn figure(&self) -> (&'static str, &'static str) {
        match self.backend {
            Backend::Sqlite => (
                "trigger → receive (SQLite)",
                "p99 ≤ 3 ms, p99.9 ≤ 20 ms, none lost or doubled",
            ),
            Backend::Postgres(_) => ("trigger → receive (PostgreSQL)", "p99 ≤ 5 ms"),
        }
    }
    fn database_url(&self) -> Option<&str> {
        match &self.backend {
            Backend::Sqlite => None,
            Backend::Postgres(url) => Some(url),
        }
    }
    fn run<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Vec<Row>> {
        Box::pin(run(ctx, &self.opts, self.label(), self.p99_target_ms()))
    }
}

/// `backend` names the storage in the rows ("SQLite", "PostgreSQL");
/// `p99_target_ms` is that backend's target.
async fn run(ctx: &Ctx, o: &FanoutOpts, backend: &str, p99_target_ms: f64) -> Vec<Row> {
    let deadline = Instant::now()
        + Duration::from_secs(90)
        + o.duration
        + Duration::from_secs_f64(o.users as f64 / 1000.0);
    let count = (o.rate as f64 * o.duration.as_secs_f64()).round() as usize;
    let t0 = Instant::now();
    let prefix = format!("F{}-", ctx.run);
    let tracker = Arc::new(Tracker::new(t0, prefix, o.users, count + 1));
    let names: Arc<Vec<String>> = Arc::new((0..o.users).map(|i| ctx.user("f", i)).collect());

    println!(
        "fan-out ({backend}): connecting {} users ...",
        thousands(o.users as u64)
    );
    let connect_started = Instant::now();
    let fleet = Fleet::connect(
        ctx,
        tracker.clone(),
        &names,
        128,
        Duration::from_secs(60),
        deadline,
    )
    .await;
    let connected = fleet.connected();
    println!(
        "  {} of {} connected in {:.1} s{}",
        thousands(connected as u64),
        thousands(o.users as u64),
        connect_started.elapsed().as_secs_f64(),
        if fleet.failures().total() > 0 {
            format!(" (failures: {})", fleet.failures().describe())
        } else {
            String::new()
        }
    );

    // Ping probes, on their own users.
    let probe_stop = Arc::new(AtomicBool::new(false));
    let rtts = Arc::new(Mutex::new(Samples::new()));
    let mut probes = Vec::new();
    for i in 0..o.probes {
        let user = ctx.user("p", i);
        let token = ctx.minter.mint(&user, TOKEN_TTL);
        let (addr, stop, rtts, interval) =
            (ctx.addr, probe_stop.clone(), rtts.clone(), o.probe_interval);
        probes.push(tokio::spawn(async move {
            probe(addr, i, &user, &token, interval, stop, rtts, deadline).await
        }));
    }

    println!(
        "  triggering {} alerts/s for {:.0} s ({} alerts, open loop, {} HTTP connections) ...",
        thousands(o.rate as u64),
        o.duration.as_secs_f64(),
        thousands(count as u64),
        o.connections
    );
    let meter = CpuMeter::start(ctx.server_pid);
    let range = open_loop(
        ctx,
        tracker.clone(),
        names.clone(),
        OpenLoop {
            rate: o.rate as f64,
            count: Some(count),
            connections: o.connections,
            stop: Arc::new(AtomicBool::new(false)),
            deadline,
            nodes: Vec::new(),
        },
    )
    .await;
    drain(&tracker, range.clone(), Duration::from_secs(5)).await;
    probe_stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let cpu = meter.finish();
    let mut probe_errors = 0;
    for p in probes {
        if !matches!(p.await, Ok(Ok(()))) {
            probe_errors += 1;
        }
    }
    if let Some(path) = &o.timeline
        && let Err(e) = std::fs::write(path, tracker.timeline(range.clone()))
    {
        eprintln!("  timeline not written to {}: {e}", path.display());
    }
    let f = tracker.figures(range);
    let a = f.accounting;
    let lat: Summary = f.delivery.summary();
    let resp = f.response.summary();
    let rtt = rtts.lock().expect("poisoned").summary();
    let misrouted = tracker.misrouted.load(std::sync::atomic::Ordering::Relaxed);
    let closes = fleet.unexpected_closes();
    fleet.stop().await;

    println!(
        "  sent {} created {} existed {} failed {}; delivered {} lost {} doubled {} misrouted {} unexpected {}; sockets closed by the server {}",
        a.sent,
        a.created,
        a.existed,
        a.failed,
        a.delivered,
        a.lost,
        a.duplicated,
        misrouted,
        a.unexpected,
        closes
    );
    println!(
        "  stored {:.0}/s, delivered {:.0}/s",
        f.stored_rate().unwrap_or(0.0),
        f.delivered_rate().unwrap_or(0.0)
    );
    println!("  trigger → receive: {lat}");
    println!("  trigger → HTTP answer: {resp}");
    println!(
        "  ping round trip ({} probes, every {} ms): {rtt}{}",
        o.probes,
        o.probe_interval.as_millis(),
        if probe_errors > 0 {
            format!(" ({probe_errors} probes failed)")
        } else {
            String::new()
        }
    );
    println!("  cpu: {}", cpu.describe());

    let full = o.users >= 10_000
        && o.rate >= 2_000
        && o.duration >= Duration::from_secs(5)
        && connected == o.users;
    let clean =
        a.lost == 0 && a.duplicated == 0 && a.failed == 0 && misrouted == 0 && a.unexpected == 0;
    let p99 = lat.p99_ms().unwrap_or(f64::INFINITY);
    let p999 = lat.p999_ms().unwrap_or(f64::INFINITY);
    let met = clean && p99 <= p99_target_ms && (backend != "SQLite" || p999 <= 20.0);
    let target = if backend == "SQLite" {
        format!("p99 ≤ {p99_target_ms:.0} ms, p99.9 ≤ 20 ms, none lost or doubled")
    } else {
        format!("p99 ≤ {p99_target_ms:.0} ms, none lost or doubled")
    };
    let measured = format!(
        "{} users, {}/s for {:.0} s: p50 {} p99 {} p99.9 {} max {}; lost {}, doubled {}, failed triggers {}",
        thousands(connected as u64),
        thousands(o.rate as u64),
        o.duration.as_secs_f64(),
        Ms(lat.p50_ms()),
        Ms(lat.p99_ms()),
        Ms(lat.p999_ms()),
        Ms(lat.max_ms()),
        a.lost,
        a.duplicated,
        a.failed
    );
    let mut rows = vec![
        Row::new(
            format!("trigger → receive ({backend})"),
            target,
            measured,
            Verdict::judged(full, met),
        )
        .cpu(cpu)
        .headline(p99, Unit::Ms),
    ];
    if backend == "SQLite" {
        rows.push(
            Row::new(
                "ping round trip under the fan-out load",
                "(no target)",
                format!(
                    "{} probes × {}/s: p50 {} p99 {} max {}",
                    o.probes,
                    (1000 / o.probe_interval.as_millis().max(1)),
                    Ms(rtt.p50_ms()),
                    Ms(rtt.p99_ms()),
                    Ms(rtt.max_ms())
                ),
                Verdict::Info,
            )
            .cpu(cpu)
            .headline(rtt.p99_ms().unwrap_or(f64::NAN), Unit::Ms),
        );
    }
    rows
}

/// One probe: `ping` every `interval`, time each `pong` by its echoed timestamp.
#[allow(clippy::too_many_arguments)]
async fn probe(
    addr: std::net::SocketAddr,
    i: usize,
    user: &str,
    token: &str,
    interval: Duration,
    stop: Arc<AtomicBool>,
    rtts: Arc<Mutex<Samples>>,
    deadline: Instant,
) -> Result<(), String> {
    let path = ws::session_path(user, token, None);
    let mut socket = ws::open(addr, ws::source_for(i + 7, addr), &path, CONNECT_TIMEOUT)
        .await
        .map_err(|e| e.label())?;
    let mut local = Samples::new();
    let result = ping_loop(&mut socket, interval, &stop, &mut local, deadline).await;
    // Keep what was measured even if the socket failed later.
    rtts.lock().expect("poisoned").extend(local);
    result
}

async fn ping_loop(
    socket: &mut ws::Ws,
    interval: Duration,
    stop: &AtomicBool,
    local: &mut Samples,
    deadline: Instant,
) -> Result<(), String> {
    use std::sync::atomic::Ordering::Relaxed;
    let t0 = Instant::now();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !stop.load(Relaxed) && Instant::now() < deadline {
        tokio::select! {
            _ = tick.tick() => {
                let ts = t0.elapsed().as_micros() as u64;
                socket
                    .send(Message::Text(format!(r#"{{"type":"ping","timestamp":{ts}}}"#).into()))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            msg = socket.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    if let Ok(ServerFrame::Pong { timestamp }) = ws::parse_frame(&text)
                        && let Some(ts) = timestamp.as_u64()
                    {
                        let now = t0.elapsed().as_micros() as u64;
                        local.push_us(now.saturating_sub(ts));
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return Err("probe socket closed".into()),
                Some(Ok(_)) => {}
            },
        }
    }
    Ok(())
}
