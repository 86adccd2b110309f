//! One socket per user inside this process. Each records the alerts it
//! receives in the [`Tracker`], and reconnects with `since` (the largest
//! alert id it saw) when told to drop, or when the server closed it. Used
//! by every scenario that triggers alerts and checks where they went.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use super::{CONNECT_TIMEOUT, Failures, TOKEN_TTL, Tracker};
use crate::scenarios::Ctx;
use crate::ws::{self, ServerFrame};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Stay connected; a new generation means "drop the socket and reconnect with since".
    Run(u64),
    Stop,
}

struct FleetShared {
    /// User `i` connects to `nodes[i % nodes.len()]`.
    nodes: Vec<SocketAddr>,
    tracker: Arc<Tracker>,
    users: Vec<(String, String)>,
    /// The users this fleet connects (indices into `users`, the tracker's).
    members: Vec<usize>,
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
        Self::connect_spread(
            ctx,
            &[ctx.addr],
            tracker,
            names,
            concurrency,
            wait,
            deadline,
        )
        .await
    }

    /// As [`Self::connect`], user `i` on `nodes[i % nodes.len()]`.
    pub async fn connect_spread(
        ctx: &Ctx,
        nodes: &[SocketAddr],
        tracker: Arc<Tracker>,
        names: &[String],
        concurrency: usize,
        wait: Duration,
        deadline: Instant,
    ) -> Fleet {
        let all = (0..names.len()).collect();
        Self::connect_some(ctx, nodes, tracker, names, all, concurrency, wait, deadline).await
    }

    /// As [`Self::connect_spread`], for the users `members` of `names` only
    /// (the tracker's user numbers stay those of `names`): two fleets over
    /// one tracker, e.g. on two runtimes.
    #[allow(clippy::too_many_arguments)]
    pub async fn connect_some(
        ctx: &Ctx,
        nodes: &[SocketAddr],
        tracker: Arc<Tracker>,
        names: &[String],
        members: Vec<usize>,
        concurrency: usize,
        wait: Duration,
        deadline: Instant,
    ) -> Fleet {
        let mut users: Vec<(String, String)> =
            names.iter().map(|n| (n.clone(), String::new())).collect();
        for &i in &members {
            users[i].1 = ctx.minter.mint(&names[i], TOKEN_TTL);
        }
        let n = users.len();
        let shared = Arc::new(FleetShared {
            nodes: if nodes.is_empty() {
                vec![ctx.addr]
            } else {
                nodes.to_vec()
            },
            tracker,
            users,
            members: members.clone(),
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
        let tasks = members
            .into_iter()
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
        self.shared.members.len()
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
        let sh = &self.shared;
        sh.members
            .iter()
            .filter(|&&i| sh.generation[i].load(Relaxed) == generation)
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

    /// When user `idx` last got `connection_established` (ns since the
    /// tracker's t0; 0: never).
    pub fn back_ns(&self, idx: usize) -> u64 {
        self.shared.back_ns.get(idx).map_or(0, |t| t.load(Relaxed))
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
    let addr = sh.nodes[idx % sh.nodes.len()];
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
            r = ws::open(addr, ws::source_for(idx, addr), &path, CONNECT_TIMEOUT) => r,
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
        // One timer for the socket's life, not one per frame.
        let end = tokio::time::sleep_until(sh.deadline.into());
        tokio::pin!(end);
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
                _ = &mut end => break Ended::Stop,
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
