//! Throughput: the highest alert rate stored and delivered.
//! Single triggers: open-loop steps of rising rate, stopping at the first
//! step that loses, doubles, falls behind (delivered < 95% of the rate) or
//! misses p99 ≤ 50 ms. Batches: closed loop, a few requests of 1,000 alerts
//! in flight, for a fixed time.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use super::{Ctx, Scenario};
use crate::cli::ThroughputOpts;
use crate::fleet::accounting::PhaseFigures;
use crate::fleet::{Fleet, Tracker};
use crate::procstat::{CpuMeter, CpuUse};
use crate::report::{Row, Unit, Verdict};
use crate::stats::{Ms, thousands};
use crate::trigger::{OpenLoop, batch_loop, drain, open_loop, prefill};

fn describe(f: &PhaseFigures) -> String {
    let a = f.accounting;
    let lat = f.delivery.summary();
    format!(
        "stored {:.0}/s delivered {:.0}/s; trigger → receive p50 {} p99 {} max {}; answer p99 {}; lost {} doubled {} failed {}",
        f.stored_rate().unwrap_or(0.0),
        f.delivered_rate().unwrap_or(0.0),
        Ms(lat.p50_ms()),
        Ms(lat.p99_ms()),
        Ms(lat.max_ms()),
        Ms(f.response.summary().p99_ms()),
        a.lost,
        a.duplicated,
        a.failed
    )
}
/// Single-trigger steps and batches, with their sizes.
pub struct Throughput(pub ThroughputOpts);

impl Scenario for Throughput {
    fn name(&self) -> &'static str {
        "throughput"
    }
    fn figure(&self) -> (&'static str, &'static str) {
        (
            "single triggers and batches",
            "≥ 5,000/s p99 ≤ 50 ms; ≥ 30,000/s",
        )
    }
    fn run<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Vec<Row>> {
        Box::pin(run(ctx, &self.0))
    }
}

async fn run(ctx: &Ctx, o: &ThroughputOpts) -> Vec<Row> {
    let single_total: f64 = o
        .rates
        .iter()
        .map(|r| *r as f64 * o.step.as_secs_f64())
        .sum();
    // Room for batches at up to 200,000 alerts/s.
    let batch_room =
        (200_000.0 * o.batch_duration.as_secs_f64()) as usize + o.batch_size * o.batch_concurrency;
    let deadline = Instant::now()
        + Duration::from_secs(120)
        + o.step * o.rates.len() as u32 * 3
        + o.batch_duration * 2
        + prefill_allowance(o.table_size);
    let t0 = Instant::now();
    let tracker = Arc::new(Tracker::new(
        t0,
        format!("T{}-", ctx.run),
        o.users,
        single_total as usize + batch_room + 16,
    ));
    let names: Arc<Vec<String>> = Arc::new((0..o.users).map(|i| ctx.user("t", i)).collect());
    println!(
        "throughput: connecting {} users ...",
        thousands(o.users as u64)
    );
    let fleet = Fleet::connect(
        ctx,
        tracker.clone(),
        &names,
        128,
        Duration::from_secs(30),
        deadline,
    )
    .await;
    println!("  {} connected", thousands(fleet.connected() as u64));

    // Single triggers, rising open-loop rates.
    let mut best: Option<(u32, PhaseFigures, CpuUse)> = None;
    let mut first_fail: Option<(u32, PhaseFigures, CpuUse)> = None;
    for &rate in &o.rates {
        let count = (rate as f64 * o.step.as_secs_f64()).round() as usize;
        let meter = CpuMeter::start(ctx.server_pid);
        let range = open_loop(
            ctx,
            tracker.clone(),
            names.clone(),
            OpenLoop {
                rate: rate as f64,
                count: Some(count),
                connections: o.connections,
                stop: Arc::new(AtomicBool::new(false)),
                deadline,
                nodes: Vec::new(),
            },
        )
        .await;
        drain(&tracker, range.clone(), Duration::from_secs(5)).await;
        let cpu = meter.finish();
        let f = tracker.figures(range);
        let a = f.accounting;
        let p99 = f.delivery.summary().p99_ms().unwrap_or(f64::INFINITY);
        let pass = a.lost == 0
            && a.duplicated == 0
            && a.failed == 0
            && a.created as usize == count
            && f.delivered_rate().unwrap_or(0.0) >= 0.95 * rate as f64
            && p99 <= 50.0;
        println!(
            "  single triggers at {}/s: {} [{}] ({})",
            thousands(rate as u64),
            describe(&f),
            if pass { "ok" } else { "FAILS" },
            cpu.describe()
        );
        if pass {
            best = Some((rate, f, cpu));
        } else {
            first_fail = Some((rate, f, cpu));
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The table the batches are measured against (1M alerts in a full run):
    // what the steps stored, topped up through the batch endpoint for users
    // nobody is connected as.
    let stored = tracker.figures(0..tracker.issued()).accounting.created;
    let missing = o.table_size.saturating_sub(stored as usize);
    let mut table = stored;
    if missing > 0 {
        println!(
            "  filling the table to {} alerts: {} more through the batch endpoint ...",
            thousands(o.table_size as u64),
            thousands(missing as u64)
        );
        let started = Instant::now();
        let until = (started + prefill_allowance(o.table_size)).min(deadline);
        let created = prefill(ctx, 10_000, missing, 1_000, o.batch_concurrency, until).await;
        table += created;
        println!(
            "  stored {} in {:.1} s ({:.0}/s, nothing delivered: no one is connected as those users)",
            thousands(created),
            started.elapsed().as_secs_f64(),
            created as f64 / started.elapsed().as_secs_f64().max(1e-9)
        );
    }

    // Batches, closed loop.
    println!(
        "  batches of {} with {} in flight for {:.0} s ...",
        thousands(o.batch_size as u64),
        o.batch_concurrency,
        o.batch_duration.as_secs_f64()
    );
    let meter = CpuMeter::start(ctx.server_pid);
    let range = batch_loop(
        ctx,
        tracker.clone(),
        names.clone(),
        o.batch_size,
        o.batch_concurrency,
        o.batch_duration,
        deadline,
    )
    .await;
    drain(&tracker, range.clone(), Duration::from_secs(10)).await;
    let batch_cpu = meter.finish();
    let bf = tracker.figures(range);
    println!("  batches: {} ({})", describe(&bf), batch_cpu.describe());
    let closes = fleet.unexpected_closes();
    if closes > 0 {
        println!("  sockets closed by the server during the run: {closes}");
    }
    fleet.stop().await;

    let mut rows = Vec::new();
    let single_target = "≥ 15,000 alerts/s with p99 ≤ 50 ms";
    let tried_target = o.rates.iter().any(|r| *r >= 15_000) && o.step >= Duration::from_secs(2);
    match (&best, &first_fail) {
        (Some((rate, f, cpu)), _) => {
            let lat = f.delivery.summary();
            let mut m = format!(
                "{}/s passed (stored {:.0}/s, delivered {:.0}/s, p99 {})",
                thousands(*rate as u64),
                f.stored_rate().unwrap_or(0.0),
                f.delivered_rate().unwrap_or(0.0),
                Ms(lat.p99_ms())
            );
            match &first_fail {
                Some((r2, f2, _)) => m.push_str(&format!(
                    "; {}/s failed (delivered {:.0}/s, p99 {})",
                    thousands(*r2 as u64),
                    f2.delivered_rate().unwrap_or(0.0),
                    Ms(f2.delivery.summary().p99_ms())
                )),
                None => m.push_str("; no higher rate tried"),
            }
            rows.push(
                Row::new(
                    "single triggers stored and delivered",
                    single_target,
                    m,
                    Verdict::judged(tried_target, *rate >= 15_000),
                )
                .cpu(*cpu)
                .headline(*rate as f64, Unit::PerSecond),
            );
        }
        (None, Some((rate, f, cpu))) => rows.push(
            Row::new(
                "single triggers stored and delivered",
                single_target,
                format!("{}/s failed: {}", thousands(*rate as u64), describe(f)),
                Verdict::judged(tried_target, false),
            )
            .cpu(*cpu)
            .headline(0.0, Unit::PerSecond),
        ),
        (None, None) => rows.push(Row::failed(
            "single triggers stored and delivered",
            single_target,
            "no rate given",
        )),
    }
    let a = bf.accounting;
    let delivered = bf.delivered_rate().unwrap_or(0.0);
    let clean = a.lost == 0 && a.duplicated == 0 && a.failed == 0;
    rows.push(
        Row::new(
            "batch endpoint stored and delivered",
            "≥ 30,000 alerts/s with the table holding 1M alerts",
            format!(
                "stored {:.0}/s, delivered {:.0}/s ({} alerts on a table of {}, batches of {}, {} in flight); p99 {}; lost {} doubled {} failed {}",
                bf.stored_rate().unwrap_or(0.0),
                delivered,
                thousands(a.created),
                thousands(table),
                o.batch_size,
                o.batch_concurrency,
                Ms(bf.delivery.summary().p99_ms()),
                a.lost,
                a.duplicated,
                a.failed
            ),
            Verdict::judged(
                o.batch_duration >= Duration::from_secs(2) && table >= 1_000_000,
                clean && delivered >= 30_000.0,
            ),
        )
        .cpu(batch_cpu)
        .headline(delivered, Unit::PerSecond),
    );
    rows
}

/// Time allowed to fill the table: at least 5,000 alerts/s.
fn prefill_allowance(table_size: usize) -> Duration {
    Duration::from_secs(30) + Duration::from_secs_f64(table_size as f64 / 5_000.0)
}
