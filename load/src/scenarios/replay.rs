//! Replay: a user misses N alerts (stored through the batch endpoint while
//! they are away), then connects with `since`; measured from the arrival
//! of `connection_established` to the arrival of the last replayed alert.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

use futures_util::future::BoxFuture;

use super::{Ctx, Scenario};
use crate::cli::ReplayOpts;
use crate::fleet::{CONNECT_TIMEOUT, TOKEN_TTL};
use crate::http::HttpConn;
use crate::procstat::CpuMeter;
use crate::report::{Row, Unit, Verdict};
use crate::stats::{Ms, Samples, thousands};
use crate::trigger::{batch_body, store_batch};
use crate::ws::{self, ServerFrame};
/// Replays of missed alerts, with their sizes.
pub struct Replay(pub ReplayOpts);

impl Scenario for Replay {
    fn name(&self) -> &'static str {
        "replay"
    }
    fn figure(&self) -> (&'static str, &'static str) {
        ("replay of 1,000 missed alerts", "complete within 50 ms")
    }
    fn run<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Vec<Row>> {
        Box::pin(run(ctx, self.0.alerts, self.0.reps))
    }
}

async fn run(ctx: &Ctx, alerts: usize, reps: usize) -> Vec<Row> {
    let figure = format!("replay of {} missed alerts", thousands(alerts as u64));
    let target = "complete within 50 ms of connection_established";
    println!("replay: {reps} users, {alerts} missed alerts each ...");
    let mut http = HttpConn::new(ctx.service);
    let mut connect = Samples::new();
    let mut replay = Samples::new();
    let mut problems = Vec::new();
    let meter = CpuMeter::start(ctx.server_pid);
    for rep in 0..reps {
        match one(ctx, &mut http, rep, alerts).await {
            Ok((c, r)) => {
                connect.push(c);
                replay.push(r);
            }
            Err(e) => problems.push(e),
        }
    }
    let cpu = meter.finish();
    let r = replay.summary();
    let c = connect.summary();
    println!("  connect → connection_established: {c}");
    println!("  connection_established → last replayed alert: {r}");
    if !problems.is_empty() {
        println!("  problems: {}", problems.join("; "));
    }
    let met = problems.is_empty() && r.max_ms().is_some_and(|m| m <= 50.0);
    vec![
        Row::new(
            figure,
            target,
            format!(
                "{} replays: p50 {} p99 {} max {}{}",
                r.count,
                Ms(r.p50_ms()),
                Ms(r.p99_ms()),
                Ms(r.max_ms()),
                if problems.is_empty() {
                    String::new()
                } else {
                    format!("; {} failed", problems.len())
                }
            ),
            Verdict::judged(alerts >= 1000 && reps >= 5, met),
        )
        .cpu(cpu)
        .headline(r.max_ms().unwrap_or(f64::NAN), Unit::Ms),
    ]
}

/// One user: store `alerts` alerts, connect with `since=0`, time the replay.
async fn one(
    ctx: &Ctx,
    http: &mut HttpConn,
    rep: usize,
    alerts: usize,
) -> Result<(Duration, Duration), String> {
    let user = ctx.user("y", rep);
    let mut stored = 0;
    while stored < alerts {
        let n = (alerts - stored).min(1000);
        let body = batch_body(
            (stored..stored + n).map(|k| (user.clone(), format!("Y{}-{rep}-{k}", ctx.run))),
        );
        store_batch(http, ctx, &body).await?;
        stored += n;
    }
    let token = ctx.minter.mint(&user, TOKEN_TTL);
    let path = ws::session_path(&user, &token, Some(0));
    let started = Instant::now();
    let mut socket = ws::open(
        ctx.addr,
        ws::source_for(rep, ctx.addr),
        &path,
        CONNECT_TIMEOUT,
    )
    .await
    .map_err(|e| e.label())?;
    let established = Instant::now();
    let mut got = 0;
    let until = established + Duration::from_secs(10);
    while got < alerts {
        let msg = tokio::time::timeout_at(until.into(), socket.next())
            .await
            .map_err(|_| format!("only {got} of {alerts} replayed within 10 s"))?;
        match msg {
            Some(Ok(Message::Text(text))) => match ws::parse_frame(&text) {
                Ok(ServerFrame::Alert { replayed: true, .. }) => got += 1,
                Ok(ServerFrame::ReplayTruncated { .. }) => {
                    return Err(format!("replay truncated after {got}"));
                }
                _ => {}
            },
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                return Err(format!("closed after {got} replayed"));
            }
            Some(Ok(_)) => {}
        }
    }
    let done = Instant::now();
    drop(socket);
    Ok((established - started, done - established))
}
