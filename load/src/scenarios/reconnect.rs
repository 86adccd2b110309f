//! Reconnect storm: N users connected while alerts flow at a steady
//! open-loop rate; every socket is dropped at once and reconnects at once
//! with `since` (the largest alert id it saw). Measured: the time until
//! every user has `connection_established` again, alerts lost or doubled
//! across the storm (each must arrive live or replayed, once), and how
//! long alerts take to reach users who are online meanwhile.
//!
//! The storm's sockets run on a runtime of their own. The observers (users
//! who stay connected through the storm) and the triggers run on the
//! tool's main runtime, which the storm does not occupy: when the storm's
//! runtime is busy reconnecting thousands of sockets, a frame for a user
//! already back waits there for the tool's CPU, and that wait is the
//! tool's, not the server's. The observers' figure is the one judged; the
//! storm's returning users' figure is printed beside it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use super::{Ctx, Scenario};
use crate::cli::ReconnectOpts;
use crate::fleet::{Fleet, Tracker};
use crate::procstat::CpuMeter;
use crate::report::{Row, Unit, Verdict};
use crate::stats::{Ms, thousands};
use crate::trigger::{OpenLoop, drain, open_loop};
/// The reconnect storm with its sizes.
pub struct Reconnect(pub ReconnectOpts);

impl Scenario for Reconnect {
    fn name(&self) -> &'static str {
        "reconnect"
    }
    fn figure(&self) -> (&'static str, &'static str) {
        ("reconnect storm", "all back within 10 s, no alert lost")
    }
    fn run<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Vec<Row>> {
        Box::pin(run(ctx, &self.0))
    }
}

async fn run(ctx: &Ctx, o: &ReconnectOpts) -> Vec<Row> {
    let figure = format!("reconnect storm, {} sockets", thousands(o.sockets as u64));
    let target = "all back within 10 s, no alert lost";
    let deadline = Instant::now() + Duration::from_secs(90) + o.before + o.after + o.give_up;
    let t0 = Instant::now();
    let total_secs = (o.before + o.after + o.give_up).as_secs_f64() + 5.0;
    let capacity = (o.rate as f64 * total_secs) as usize + 16;
    let users = o.sockets + o.observers;
    let tracker = Arc::new(Tracker::new(t0, format!("R{}-", ctx.run), users, capacity));
    // The observers are spread over the user numbers, so that alerts,
    // which go to the users in turn, reach them all through the run.
    let period = (users / o.observers.max(1)).max(1);
    let observer = move |user: usize| {
        o.observers > 0 && user < o.observers * period && user % period == period - 1
    };
    let (watchers, stormers): (Vec<usize>, Vec<usize>) = (0..users).partition(|&u| observer(u));
    let names: Arc<Vec<String>> = Arc::new((0..users).map(|i| ctx.user("r", i)).collect());
    let storm_rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("storm")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return vec![Row::failed(figure, target, format!("no runtime: {e}"))],
    };

    println!(
        "reconnect storm: connecting {} users and {} observers ...",
        thousands(o.sockets as u64),
        thousands(o.observers as u64)
    );
    let storm_fleet = {
        let (ctx, tracker, names) = (ctx.clone(), tracker.clone(), names.clone());
        storm_rt.spawn(async move {
            let nodes = [ctx.addr];
            let wait = Duration::from_secs(60);
            Fleet::connect_some(&ctx, &nodes, tracker, &names, stormers, 128, wait, deadline).await
        })
    };
    let observers = Fleet::connect_some(
        ctx,
        &[ctx.addr],
        tracker.clone(),
        &names,
        watchers,
        128,
        Duration::from_secs(60),
        deadline,
    )
    .await;
    let mut fleet = match storm_fleet.await {
        Ok(fleet) => fleet,
        Err(e) => {
            observers.stop().await;
            storm_rt.shutdown_background();
            return vec![Row::failed(figure, target, format!("storm fleet: {e}"))];
        }
    };
    let connected = fleet.connected() + observers.connected();
    println!("  {} connected", thousands(connected as u64));
    if connected < users {
        let why = format!(
            "only {} of {} connected ({}{})",
            connected,
            users,
            fleet.failures().describe(),
            observers.failures().describe()
        );
        fleet.stop().await;
        observers.stop().await;
        storm_rt.shutdown_background();
        return vec![Row::failed(figure, target, why)];
    }

    let meter = CpuMeter::start(ctx.server_pid);
    let stop = Arc::new(AtomicBool::new(false));
    let trigger = {
        let (tracker, names, stop) = (tracker.clone(), names.clone(), stop.clone());
        let plan = OpenLoop {
            rate: o.rate as f64,
            count: None,
            connections: 32,
            stop,
            deadline,
            nodes: Vec::new(),
        };
        let ctx2 = ctx.clone();
        tokio::spawn(async move { open_loop(&ctx2, tracker, names, plan).await })
    };
    println!(
        "  alerts at {}/s; dropping every storm socket after {:.1} s ...",
        thousands(o.rate as u64),
        o.before.as_secs_f64()
    );
    tokio::time::sleep(o.before).await;
    let dropped_at = Instant::now();
    let failures_before = fleet.failures().total();
    let generation = fleet.drop_all();
    let back = fleet.wait_connected(generation, o.give_up).await;
    let all_back = back == o.sockets;
    let back_after =
        Duration::from_nanos(fleet.last_back_ns().saturating_sub(tracker.ns(dropped_at)));
    println!(
        "  {} of {} back{} (failed attempts meanwhile: {}{})",
        thousands(back as u64),
        thousands(o.sockets as u64),
        if all_back {
            format!(" after {:.2} s", back_after.as_secs_f64())
        } else {
            format!(", gave up after {:.0} s", o.give_up.as_secs_f64())
        },
        fleet.failures().total() - failures_before,
        if fleet.failures().total() > failures_before {
            format!(": {}", fleet.failures().describe())
        } else {
            String::new()
        }
    );
    let storm_end = tracker.ns(Instant::now());
    tokio::time::sleep(o.after).await;
    stop.store(true, Relaxed);
    let range = trigger.await.unwrap_or(0..0);
    drain(&tracker, range.clone(), Duration::from_secs(5)).await;
    let cpu = meter.finish();
    let f = tracker.figures(range.clone());
    let a = f.accounting;
    // The storm: alerts due from the drop until every socket was back.
    // Their latency counts for users who were connected at the due time:
    // the observers, and the storm's users once back (the others wait for
    // their user's reconnect, which is the client's).
    let storm_start = tracker.ns(dropped_at);
    let in_storm = |due: u64| (storm_start..=storm_end).contains(&due);
    let storm = tracker.figures_where(range.clone(), |_, due| in_storm(due));
    let online = tracker.figures_where(range.clone(), |user, due| in_storm(due) && observer(user));
    let returned = tracker.figures_where(range, |user, due| {
        in_storm(due) && !observer(user) && fleet.back_ns(user) <= due
    });
    let replayed = tracker.replayed.load(Relaxed);
    let truncated = fleet.truncated();
    let closes = fleet.unexpected_closes() + observers.unexpected_closes();
    fleet.stop().await;
    observers.stop().await;
    storm_rt.shutdown_background();
    println!(
        "  alerts: created {} delivered {} (replayed {}) lost {} doubled {} failed {}; truncated replays {}; sockets closed by the server {}",
        a.created, a.delivered, replayed, a.lost, a.duplicated, a.failed, truncated, closes
    );
    println!(
        "  trigger → receive over the whole run: {}",
        f.delivery.summary()
    );
    println!(
        "  trigger → HTTP answer over the whole run: {}",
        f.response.summary()
    );
    let online_lat = online.delivery.summary();
    let returned_lat = returned.delivery.summary();
    let storm_resp = storm.response.summary();
    let sa = storm.accounting;
    println!(
        "  during the storm ({:.2} s, {} alerts): to observers {online_lat}; to storm users already back {returned_lat}; trigger → HTTP answer {storm_resp}; lost {} doubled {}",
        Duration::from_nanos(storm_end.saturating_sub(storm_start)).as_secs_f64(),
        sa.sent,
        sa.lost,
        sa.duplicated
    );
    println!("  cpu: {}", cpu.describe());

    let met = all_back
        && back_after <= Duration::from_secs(10)
        && a.lost == 0
        && a.duplicated == 0
        && a.failed == 0;
    vec![
        Row::new(
            figure,
            target,
            format!(
                "{} back in {}; alerts at {}/s: {} created, {} replayed, lost {}, doubled {}",
                if all_back {
                    "all".to_string()
                } else {
                    format!("{back} of {}", o.sockets)
                },
                if all_back {
                    format!("{:.2} s", back_after.as_secs_f64())
                } else {
                    format!("> {:.0} s", o.give_up.as_secs_f64())
                },
                thousands(o.rate as u64),
                a.created,
                replayed,
                a.lost,
                a.duplicated
            ),
            Verdict::judged(o.sockets >= 10_000, met),
        )
        .cpu(cpu)
        .headline(
            if all_back { back_after.as_secs_f64() } else { f64::NAN },
            Unit::Seconds,
        ),
        Row::new(
            "trigger → receive during the storm",
            "p99 ≤ 50 ms, nothing lost",
            format!(
                "{} alerts to users online through it: p50 {} p99 {} max {}; to storm users already back: {} alerts, p99 {} (the tool's storm runtime included); trigger → answer p99 {}; of {} due during the storm, lost {}, doubled {}, failed {}",
                online_lat.count,
                Ms(online_lat.p50_ms()),
                Ms(online_lat.p99_ms()),
                Ms(online_lat.max_ms()),
                returned_lat.count,
                Ms(returned_lat.p99_ms()),
                Ms(storm_resp.p99_ms()),
                sa.sent,
                sa.lost,
                sa.duplicated,
                sa.failed
            ),
            Verdict::judged(
                o.sockets >= 10_000 && o.rate >= 1_000,
                all_back
                    && sa.lost == 0
                    && sa.duplicated == 0
                    && sa.failed == 0
                    && a.lost == 0
                    && online_lat.p99_ms().is_some_and(|p| p <= 50.0),
            ),
        )
        .cpu(cpu)
        .headline(online_lat.p99_ms().unwrap_or(f64::NAN), Unit::Ms),
    ]
}
