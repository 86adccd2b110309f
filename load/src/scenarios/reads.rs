//! Reads: `mark_read` under load — the write a user's read costs (the
//! alert's update and the unread count that follows it) and its echo to
//! the user's session. The sizing in docs/capacity.md counts one such write
//! per read beside one insert per alert; no other scenario makes it.
//!
//! Each user stores `--alerts` alerts through the batch endpoint and
//! connects with `since=0`, which replays them and so gives their ids. Then
//! the tool marks distinct alerts read at an open-loop rate, round robin
//! over the users (each socket stays far under the contract's 20 messages a
//! second), and times each read from when it was due to the `unread_count`
//! that follows its `alert_update` on the same socket (§1: `alert_update`
//! then `unread_count`).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt, stream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::{Ctx, Scenario};
use crate::cli::ReadsOpts;
use crate::fleet::{CONNECT_TIMEOUT, TOKEN_TTL};
use crate::http::HttpConn;
use crate::procstat::CpuMeter;
use crate::report::{Row, Unit, Verdict};
use crate::stats::{Ms, Samples, rate, thousands};
use crate::trigger::{batch_body, store_batch};
use crate::ws::{self, ServerFrame, Ws};

/// The contract drops a session's messages above 20 a second; the tool
/// keeps each socket at half that.
const PER_SOCKET_LIMIT: f64 = 10.0;

/// `mark_read` at a rate, with its sizes.
pub struct Reads(pub ReadsOpts);

const FIGURE: &str = "mark_read stored and echoed";
const TARGET: &str = "(no target)";

impl Scenario for Reads {
    fn name(&self) -> &'static str {
        "reads"
    }
    fn figure(&self) -> (&'static str, &'static str) {
        (FIGURE, TARGET)
    }
    fn run<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Vec<Row>> {
        Box::pin(run(ctx, &self.0))
    }
}

/// One socket's reads in flight: marked, then its `alert_update` (matched
/// by id), then the `unread_count` that follows it. An `unread_count`
/// with no update before it (the one after the replay) completes nothing.
#[derive(Default)]
struct InFlight {
    marked: HashMap<i64, Instant>,
    updated: VecDeque<Instant>,
}

impl InFlight {
    fn marked(&mut self, id: i64, due: Instant) {
        self.marked.insert(id, due);
    }

    fn updated(&mut self, id: Option<i64>) {
        if let Some(due) = id.and_then(|id| self.marked.remove(&id)) {
            self.updated.push_back(due);
        }
    }

    fn counted(&mut self, now: Instant) -> Option<Duration> {
        self.updated
            .pop_front()
            .map(|due| now.saturating_duration_since(due))
    }

    fn open(&self) -> usize {
        self.marked.len() + self.updated.len()
    }
}

#[derive(Default)]
struct Outcome {
    samples: Samples,
    /// Reads with no `unread_count` 10 s after the last read was due (or
    /// on a socket that closed): unanswered by then, not known to be lost.
    unanswered: usize,
    /// `error` frames (`not_found`, `rate_limited`, `unavailable`).
    errors: usize,
}

async fn run(ctx: &Ctx, o: &ReadsOpts) -> Vec<Row> {
    let users = o.users.max(1);
    let per_socket = o.rate as f64 / users as f64;
    if per_socket > PER_SOCKET_LIMIT {
        let why = format!(
            "{per_socket:.1} reads a second per socket; at most {PER_SOCKET_LIMIT} (raise --users)"
        );
        return vec![Row::failed(FIGURE, TARGET, why)];
    }
    let reads = ((o.rate as f64 * o.duration.as_secs_f64()) as usize).min(users * o.alerts);
    println!(
        "reads: {users} users, {} alerts each, {} mark_read at {}/s ...",
        o.alerts,
        thousands(reads as u64),
        thousands(o.rate as u64)
    );
    if let Err(e) = store(ctx, users, o.alerts).await {
        return vec![Row::failed(FIGURE, TARGET, e)];
    }
    let opened: Vec<_> = stream::iter(0..users)
        .map(|u| connect(ctx, u, o.alerts))
        .buffer_unordered(64)
        .collect()
        .await;
    let failed = opened.iter().filter(|r| r.is_err()).count();
    if let Some(Err(e)) = opened.iter().find(|r| r.is_err()) {
        println!("  {failed} of {users} users could not connect (first: {e})");
    }
    let opened: Vec<_> = opened.into_iter().flatten().collect();
    if opened.is_empty() {
        return vec![Row::failed(FIGURE, TARGET, "no user connected")];
    }
    let reads = reads.min(opened.len() * o.alerts);

    let interval = Duration::from_secs_f64(1.0 / o.rate.max(1) as f64);
    let until = Instant::now() + interval * reads as u32 + Duration::from_secs(10);
    let mut senders = Vec::new();
    let mut ids = Vec::new();
    let mut tasks = Vec::new();
    for (socket, alert_ids) in opened {
        let (tx, rx) = mpsc::unbounded_channel();
        senders.push(tx);
        ids.push(alert_ids);
        tasks.push(tokio::spawn(session(socket, rx, until)));
    }
    let meter = CpuMeter::start(ctx.server_pid);
    let start = Instant::now();
    for k in 0..reads {
        let due = start + interval * k as u32;
        tokio::time::sleep_until(due.into()).await;
        let u = k % senders.len();
        // A closed socket's task counts what it could not send as unanswered.
        let _ = senders[u].send((ids[u][k / senders.len()], due));
    }
    drop(senders);
    let mut out = Outcome::default();
    for t in tasks {
        if let Ok(o) = t.await {
            out.samples.extend(o.samples);
            out.unanswered += o.unanswered;
            out.errors += o.errors;
        }
    }
    let span = start.elapsed();
    let cpu = meter.finish();
    let s = out.samples.summary();
    let done = s.count as u64;
    println!(
        "  mark_read → unread_count: {s}; unanswered {} errors {}",
        out.unanswered, out.errors
    );
    let measured = format!(
        "{} users, {} reads at {}/s: completed {}/s; mark_read → unread_count p50 {} p99 {} max {}; unanswered within 10 s {}, errors {}{}",
        thousands(users as u64),
        thousands(reads as u64),
        thousands(o.rate as u64),
        rate(done, span).map_or("?".into(), |r| format!("{r:.0}")),
        Ms(s.p50_ms()),
        Ms(s.p99_ms()),
        Ms(s.max_ms()),
        out.unanswered,
        out.errors,
        if failed > 0 {
            format!("; {failed} users could not connect")
        } else {
            String::new()
        }
    );
    vec![
        Row::new(FIGURE, TARGET, measured, Verdict::Info)
            .cpu(cpu)
            .headline(s.p99_ms().unwrap_or(f64::NAN), Unit::Ms),
    ]
}

/// Every user's alerts, through the batch endpoint, 1,000 a request.
async fn store(ctx: &Ctx, users: usize, alerts: usize) -> Result<(), String> {
    let mut http = HttpConn::new(ctx.service);
    let pairs: Vec<(usize, usize)> = (0..users)
        .flat_map(|u| (0..alerts).map(move |k| (u, k)))
        .collect();
    for chunk in pairs.chunks(1000) {
        let body = batch_body(
            chunk
                .iter()
                .map(|&(u, k)| (ctx.user("r", u), format!("R{}-{u}-{k}", ctx.run))),
        );
        store_batch(&mut http, ctx, &body).await?;
    }
    Ok(())
}

/// Connects user `u` with `since=0`, collects the ids of its replayed
/// alerts, then reads until the session has been quiet for 300 ms (the
/// frames that follow a replay), so that the reads start on a quiet socket.
async fn connect(ctx: &Ctx, u: usize, alerts: usize) -> Result<(Ws, Vec<i64>), String> {
    let user = ctx.user("r", u);
    let token = ctx.minter.mint(&user, TOKEN_TTL);
    let path = ws::session_path(&user, &token, Some(0));
    let mut socket = ws::open(
        ctx.addr,
        ws::source_for(u, ctx.addr),
        &path,
        CONNECT_TIMEOUT,
    )
    .await
    .map_err(|e| e.label())?;
    let mut ids = Vec::with_capacity(alerts);
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let quiet = Instant::now() + Duration::from_millis(300);
        let deadline = if ids.len() < alerts {
            until
        } else {
            quiet.min(until)
        };
        match tokio::time::timeout_at(deadline.into(), socket.next()).await {
            Err(_) if ids.len() >= alerts => return Ok((socket, ids)),
            Err(_) => return Err(format!("{} of {alerts} replayed within 10 s", ids.len())),
            Ok(Some(Ok(Message::Text(text)))) => {
                if let Ok(ServerFrame::Alert {
                    alert_id,
                    replayed: true,
                    ..
                }) = ws::parse_frame(&text)
                {
                    ids.push(alert_id);
                }
            }
            Ok(Some(Ok(Message::Close(_))) | Some(Err(_)) | None) => {
                return Err(format!("closed after {} replayed", ids.len()));
            }
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// One socket: sends the reads it is given, matches the answers, and
/// stops once the reads are all answered after the last was given, or at
/// `until`.
async fn session(
    mut socket: Ws,
    mut reads: mpsc::UnboundedReceiver<(i64, Instant)>,
    until: Instant,
) -> Outcome {
    let mut f = InFlight::default();
    let mut out = Outcome::default();
    let mut giving = true;
    // One timer for the socket's life, not one per frame.
    let end = tokio::time::sleep_until(until.into());
    tokio::pin!(end);
    while giving || f.open() > 0 {
        tokio::select! {
            read = reads.recv(), if giving => match read {
                Some((id, due)) => {
                    f.marked(id, due);
                    let text = format!(r#"{{"type":"mark_read","alert_id":{id}}}"#);
                    if socket.send(Message::text(text)).await.is_err() {
                        break;
                    }
                }
                None => giving = false,
            },
            msg = socket.next() => match msg {
                Some(Ok(Message::Text(text))) => match ws::parse_frame(&text) {
                    Ok(ServerFrame::Update { alert_id }) => f.updated(alert_id),
                    Ok(ServerFrame::Other { kind }) if kind == "unread_count" => {
                        if let Some(d) = f.counted(Instant::now()) {
                            out.samples.push(d);
                        }
                    }
                    Ok(ServerFrame::Error { .. }) => out.errors += 1,
                    _ => {}
                },
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            _ = &mut end => break,
        }
    }
    reads.close();
    while reads.try_recv().is_ok() {
        out.unanswered += 1;
    }
    out.unanswered += f.open();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_completes_at_the_count_after_its_own_update() {
        let t0 = Instant::now();
        let mut f = InFlight::default();
        // The count that follows the replay: no read is answered by it.
        assert_eq!(f.counted(t0 + Duration::from_millis(1)), None);
        f.marked(7, t0);
        f.marked(9, t0 + Duration::from_millis(2));
        // Another alert's update (another tab's read) is not ours.
        f.updated(Some(8));
        f.updated(None);
        assert_eq!(f.counted(t0 + Duration::from_millis(3)), None);
        assert_eq!(f.open(), 2);
        // Updates may come in another order than the reads were sent.
        f.updated(Some(9));
        f.updated(Some(7));
        assert_eq!(
            f.counted(t0 + Duration::from_millis(5)),
            Some(Duration::from_millis(3))
        );
        assert_eq!(
            f.counted(t0 + Duration::from_millis(6)),
            Some(Duration::from_millis(6))
        );
        assert_eq!(f.open(), 0);
        assert_eq!(f.counted(t0 + Duration::from_millis(7)), None);
    }
}
