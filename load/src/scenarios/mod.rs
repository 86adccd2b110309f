//! The scenarios, and what they share: the context (target, credentials),
//! a fleet of user sessions that record every alert they receive, and the
//! open-loop trigger.

pub mod fanout;
pub mod handshakes;
pub mod idle;
pub mod reconnect;
pub mod replay;
pub mod throughput;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::accounting::{CREATED, EXISTED, FAILED, Tracker};
use crate::cli::Target;
use crate::http::HttpConn;
use crate::jwt::Minter;
use crate::procstat;
use crate::ws::{self, ServerFrame};

/// Tokens live long enough for any phase.
pub const TOKEN_TTL: Duration = Duration::from_secs(3600);
/// One handshake, from TCP connect to `connection_established`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Ctx {
    pub addr: SocketAddr,
    pub minter: Minter,
    pub service_auth: String,
    pub server_pid: Option<u32>,
    /// A short random tag: user ids and breach ids of this run are unique.
    pub run: String,
    pub jwt_secret: String,
    pub user_claim: String,
}

impl Ctx {
    pub fn new(
        addr: SocketAddr,
        jwt_secret: &str,
        user_claim: &str,
        service_key: &str,
        server_pid: Option<u32>,
    ) -> Result<Self, String> {
        let run = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
        Ok(Self {
            addr,
            minter: Minter::new(jwt_secret, user_claim)?,
            service_auth: format!("Bearer {service_key}"),
            server_pid,
            run,
            jwt_secret: jwt_secret.to_owned(),
            user_claim: user_claim.to_owned(),
        })
    }

    pub fn from_target(t: &Target) -> Result<Self, String> {
        let pid = t
            .server_pid
            .or_else(|| procstat::find_listener_pid(t.url.port()));
        if pid.is_none() {
            eprintln!(
                "note: no process found listening on port {}; server CPU and RSS will not be reported (give --server-pid)",
                t.url.port()
            );
        }
        Self::new(t.url, &t.jwt_secret, &t.user_claim, &t.service_key, pid)
    }

    /// A user id unique to this run: `<tag><run>_<i>`.
    pub fn user(&self, tag: &str, i: usize) -> String {
        format!("{tag}{}_{i}", self.run)
    }
}

/// Tallies of why connects failed.
#[derive(Default)]
pub struct Failures(Mutex<HashMap<String, u64>>);

impl Failures {
    pub fn add(&self, label: String) {
        *self.0.lock().expect("poisoned").entry(label).or_default() += 1;
    }
    pub fn total(&self) -> u64 {
        self.0.lock().expect("poisoned").values().sum()
    }
    pub fn describe(&self) -> String {
        let map = self.0.lock().expect("poisoned");
        let mut v: Vec<_> = map.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1));
        v.iter()
            .map(|(k, n)| format!("{n}× {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Stay connected; a new generation means "drop the socket and reconnect with since".
    Run(u64),
    Stop,
}

struct FleetShared {
    addr: SocketAddr,
    tracker: Arc<Tracker>,
    users: Vec<(String, String)>,
    connected: AtomicUsize,
    /// When each user last got `connection_established`, ns since the tracker's t0.
    back_ns: Vec<AtomicU64>,
    /// The generation each user last connected in.
    generation: Vec<AtomicU64>,
    failures: Failures,
    unexpected_closes: AtomicU64,
    truncated: AtomicU64,
    initial: Semaphore,
    deadline: Instant,
}

/// One socket per user, each recording the alerts it receives in the
/// tracker and reconnecting with `since` when told to (or when the server
/// closes it).
pub struct Fleet {
    shared: Arc<FleetShared>,
    control: watch::Sender<Control>,
    tasks: Vec<JoinHandle<()>>,
    generation: u64,
}

impl Fleet {
    /// Connects every user (at most `concurrency` handshakes in flight) and
    /// waits until all are in or `wait` has passed. Sessions stop by
    /// themselves at `deadline`.
    pub async fn connect(
        ctx: &Ctx,
        tracker: Arc<Tracker>,
        names: &[String],
        concurrency: usize,
        wait: Duration,
        deadline: Instant,
    ) -> Fleet {
        let users: Vec<(String, String)> = names
            .iter()
            .map(|n| (n.clone(), ctx.minter.mint(n, TOKEN_TTL)))
            .collect();
        let n = users.len();
        let shared = Arc::new(FleetShared {
            addr: ctx.addr,
            tracker,
            users,
            connected: AtomicUsize::new(0),
            back_ns: (0..n).map(|_| AtomicU64::new(0)).collect(),
            generation: (0..n).map(|_| AtomicU64::new(u64::MAX)).collect(),
            failures: Failures::default(),
            unexpected_closes: AtomicU64::new(0),
            truncated: AtomicU64::new(0),
            initial: Semaphore::new(concurrency.max(1)),
            deadline,
        });
        let (control, rx) = watch::channel(Control::Run(0));
        let tasks = (0..n)
            .map(|i| tokio::spawn(user_task(shared.clone(), i, rx.clone())))
            .collect();
        let fleet = Fleet {
            shared,
            control,
            tasks,
            generation: 0,
        };
        fleet.wait_connected(0, wait).await;
        fleet
    }

    pub fn len(&self) -> usize {
        self.shared.users.len()
    }

    pub fn connected(&self) -> usize {
        self.shared.connected.load(Relaxed)
    }

    /// Waits until every user is connected in `generation` (or `wait` passed);
    /// answers how many are.
    pub async fn wait_connected(&self, generation: u64, wait: Duration) -> usize {
        let until = Instant::now() + wait;
        loop {
            let n = self.connected_in(generation);
            if n == self.len() || Instant::now() >= until {
                return n;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn connected_in(&self, generation: u64) -> usize {
        self.shared
            .generation
            .iter()
            .filter(|g| g.load(Relaxed) == generation)
            .count()
    }

    /// The latest time (ns since the tracker's t0) a user got `connection_established`.
    pub fn last_back_ns(&self) -> u64 {
        self.shared
            .back_ns
            .iter()
            .map(|t| t.load(Relaxed))
            .max()
            .unwrap_or(0)
    }

    /// Every socket is dropped at once and reconnects with `since`;
    /// answers the new generation.
    pub fn drop_all(&mut self) -> u64 {
        self.generation += 1;
        let _ = self.control.send(Control::Run(self.generation));
        self.generation
    }

    pub fn failures(&self) -> &Failures {
        &self.shared.failures
    }

    pub fn unexpected_closes(&self) -> u64 {
        self.shared.unexpected_closes.load(Relaxed)
    }

    pub fn truncated(&self) -> u64 {
        self.shared.truncated.load(Relaxed)
    }

    pub async fn stop(self) {
        let _ = self.control.send(Control::Stop);
        for t in self.tasks {
            if tokio::time::timeout(Duration::from_secs(5), t)
                .await
                .is_err()
            {
                break;
            }
        }
    }
}

enum Ended {
    Stop,
    Dropped,
    Lost,
}

async fn user_task(sh: Arc<FleetShared>, idx: usize, mut control: watch::Receiver<Control>) {
    let (user, token) = &sh.users[idx];
    let mut max_id: Option<i64> = None;
    let mut ever = false;
    let mut backoff = Duration::from_millis(50);
    loop {
        if Instant::now() >= sh.deadline {
            return;
        }
        let Control::Run(generation) = *control.borrow_and_update() else {
            return;
        };
        let since = ever.then(|| max_id.unwrap_or(0));
        let path = ws::session_path(user, token, since);
        let permit = if ever {
            None
        } else {
            sh.initial.acquire().await.ok()
        };
        let opened = tokio::select! {
            r = ws::open(sh.addr, ws::source_for(idx, sh.addr), &path, CONNECT_TIMEOUT) => r,
            _ = tokio::time::sleep_until(sh.deadline.into()) => return,
        };
        drop(permit);
        let mut socket = match opened {
            Ok(s) => s,
            Err(e) => {
                sh.failures.add(e.label());
                let jitter = rand::random_range(0..=backoff.as_millis() as u64 / 2);
                tokio::time::sleep(backoff + Duration::from_millis(jitter)).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        ever = true;
        backoff = Duration::from_millis(50);
        sh.back_ns[idx].store(sh.tracker.ns(Instant::now()), Relaxed);
        sh.generation[idx].store(generation, Relaxed);
        sh.connected.fetch_add(1, Relaxed);
        let ended = loop {
            tokio::select! {
                msg = socket.next() => match msg {
                    Some(Ok(Message::Text(text))) => match ws::parse_frame(&text) {
                        Ok(ServerFrame::Alert { alert_id, breach_id, replayed }) => {
                            sh.tracker.arrived(&breach_id, idx, replayed, Instant::now());
                            max_id = Some(max_id.map_or(alert_id, |m| m.max(alert_id)));
                        }
                        Ok(ServerFrame::ReplayTruncated { .. }) => {
                            sh.truncated.fetch_add(1, Relaxed);
                        }
                        _ => {}
                    },
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break Ended::Lost,
                    Some(Ok(_)) => {}
                },
                changed = control.changed() => {
                    if changed.is_err() {
                        break Ended::Stop;
                    }
                    match *control.borrow() {
                        Control::Stop => break Ended::Stop,
                        Control::Run(g) if g != generation => break Ended::Dropped,
                        Control::Run(_) => {}
                    }
                }
                _ = tokio::time::sleep_until(sh.deadline.into()) => break Ended::Stop,
            }
        };
        sh.connected.fetch_sub(1, Relaxed);
        drop(socket);
        match ended {
            Ended::Stop => return,
            Ended::Dropped => continue,
            Ended::Lost => {
                sh.unexpected_closes.fetch_add(1, Relaxed);
                tokio::time::sleep(backoff).await;
            }
        }
    }
}

/// The JSON of one trigger.
pub fn trigger_body(user: &str, breach_id: &str) -> String {
    format!(
        r#"{{"user_id":"{user}","breach_id":"{breach_id}","title":"Load test alert","severity":"HIGH","confidence":0.9,"source":"alerthub-load"}}"#
    )
}

/// The JSON of one batch.
pub fn batch_body(items: impl Iterator<Item = (String, String)>) -> String {
    let mut s = String::from(r#"{"alerts":["#);
    for (k, (user, breach_id)) in items.enumerate() {
        if k > 0 {
            s.push(',');
        }
        s.push_str(&trigger_body(&user, &breach_id));
    }
    s.push_str("]}");
    s
}

/// Open-loop triggering: alert `k` of the phase is due at `start + k/rate`,
/// whatever happened to earlier ones. Its latency counts from that due time
/// if it could not be sent on time (every connection still waiting for the
/// server), so a server that falls behind shows in the figures; otherwise
/// from the moment it was sent.
pub struct OpenLoop {
    pub rate: f64,
    /// Alerts in the phase; `None`: until `stop` is set.
    pub count: Option<usize>,
    pub connections: usize,
    pub stop: Arc<AtomicBool>,
    pub deadline: Instant,
}

/// Runs one open-loop phase; answers its sequence range.
pub async fn open_loop(
    ctx: &Ctx,
    tracker: Arc<Tracker>,
    names: Arc<Vec<String>>,
    plan: OpenLoop,
) -> std::ops::Range<usize> {
    let seq0 = tracker.issued();
    let room = tracker.capacity() - seq0;
    let count = plan.count.unwrap_or(room).min(room);
    let start = Instant::now() + Duration::from_millis(5);
    let next = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..plan.connections.max(1) {
        let (tracker, names, next, sent, stop) = (
            tracker.clone(),
            names.clone(),
            next.clone(),
            sent.clone(),
            plan.stop.clone(),
        );
        let (addr, auth, rate, deadline) =
            (ctx.addr, ctx.service_auth.clone(), plan.rate, plan.deadline);
        workers.push(tokio::spawn(async move {
            let mut conn = HttpConn::new(addr);
            loop {
                if stop.load(Relaxed) || Instant::now() >= deadline {
                    return;
                }
                let k = next.fetch_add(1, Relaxed);
                if k >= count {
                    return;
                }
                let seq = seq0 + k;
                let due = start + Duration::from_secs_f64(k as f64 / rate);
                // Latency counts from the due time when this worker was late
                // for it (all connections busy: the server fell behind), and
                // from the send when it was early and waited: the timer wakes
                // up to a millisecond late, which is the tool's, not the server's.
                let sent_from = if Instant::now() < due {
                    tokio::time::sleep_until(due.into()).await;
                    Instant::now()
                } else {
                    due
                };
                tracker.scheduled(seq, sent_from);
                sent.fetch_max(k + 1, Relaxed);
                let body = trigger_body(&names[tracker.user_of(seq)], &tracker.breach_id(seq));
                let left = deadline.saturating_duration_since(Instant::now());
                let r = tokio::time::timeout(
                    left,
                    conn.request("POST", "/api/v1/alerts", Some(&auth), Some(body.as_bytes())),
                )
                .await;
                let status = match r {
                    Ok(Ok(resp)) if resp.status == 201 => CREATED,
                    Ok(Ok(resp)) if resp.status == 200 => EXISTED,
                    _ => FAILED,
                };
                tracker.answered(seq, status, Instant::now());
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    let end = seq0 + sent.load(Relaxed);
    tracker.set_issued(end);
    seq0..end
}

/// Closed-loop batches: `concurrency` requests of `size` alerts in flight
/// until `duration` has passed. Each alert's latency counts from its
/// request's send time.
pub async fn batch_loop(
    ctx: &Ctx,
    tracker: Arc<Tracker>,
    names: Arc<Vec<String>>,
    size: usize,
    concurrency: usize,
    duration: Duration,
    deadline: Instant,
) -> std::ops::Range<usize> {
    let seq0 = tracker.issued();
    let room = tracker.capacity() - seq0;
    let until = (Instant::now() + duration).min(deadline);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (tracker, names, next) = (tracker.clone(), names.clone(), next.clone());
        let (addr, auth) = (ctx.addr, ctx.service_auth.clone());
        workers.push(tokio::spawn(async move {
            let mut conn = HttpConn::new(addr);
            let mut used = 0;
            while Instant::now() < until {
                let k = next.fetch_add(size, Relaxed);
                if k + size > room {
                    break;
                }
                let seqs = seq0 + k..seq0 + k + size;
                let body = batch_body(
                    seqs.clone()
                        .map(|s| (names[tracker.user_of(s)].clone(), tracker.breach_id(s))),
                );
                let sent_at = Instant::now();
                for s in seqs.clone() {
                    tracker.scheduled(s, sent_at);
                }
                let left = deadline.saturating_duration_since(Instant::now());
                let r = tokio::time::timeout(
                    left,
                    conn.request(
                        "POST",
                        "/api/v1/alerts/batch",
                        Some(&auth),
                        Some(body.as_bytes()),
                    ),
                )
                .await;
                let now = Instant::now();
                let results = match r {
                    Ok(Ok(resp)) if resp.status == 200 => resp.json().and_then(|v| {
                        v.get("results")?.as_array().map(|a| {
                            a.iter()
                                .map(|x| x.get("created").and_then(|c| c.as_bool()))
                                .collect::<Vec<_>>()
                        })
                    }),
                    _ => None,
                };
                for (j, s) in seqs.enumerate() {
                    let status = match results.as_ref().and_then(|r| r.get(j).copied().flatten()) {
                        Some(true) => CREATED,
                        Some(false) => EXISTED,
                        None => FAILED,
                    };
                    tracker.answered(s, status, now);
                }
                used = k + size;
            }
            used
        }));
    }
    let mut end = 0;
    for w in workers {
        end = end.max(w.await.unwrap_or(0));
    }
    tracker.set_issued(seq0 + end);
    seq0..seq0 + end
}

/// Waits until every created alert of the range arrived and every trigger
/// answered, or `wait` passed; then a short grace to catch late doubles.
pub async fn drain(tracker: &Tracker, range: std::ops::Range<usize>, wait: Duration) {
    let until = Instant::now() + wait;
    while Instant::now() < until {
        if tracker.pending(range.clone()) == (0, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
}

pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_valid_json() {
        let v: serde_json::Value = serde_json::from_str(&trigger_body("u1", "L-1")).unwrap();
        assert_eq!(v["user_id"], "u1");
        assert_eq!(v["breach_id"], "L-1");
        let b = batch_body(
            vec![
                ("a".to_string(), "x1".to_string()),
                ("b".into(), "x2".into()),
            ]
            .into_iter(),
        );
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["alerts"].as_array().unwrap().len(), 2);
        assert_eq!(v["alerts"][1]["breach_id"], "x2");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(19500), "19,500");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
