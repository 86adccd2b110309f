//! Sockets held by child processes of this tool, for counts one process
//! cannot hold (a process may have at most 20,000 open files here).
//!
//! The tool re-executes itself as `idle-child`: each child opens its share
//! of sockets (distinct users, at most `concurrency` handshakes in flight)
//! from its own loopback source address 127.0.1.x, prints `READY {json}`
//! once all have been tried, holds them (answering the server's pings) until
//! its stdin closes, closes them, and prints `DONE {json}` with how many
//! were still open and the CPU it used. Every child also stops by itself at
//! `--max-life`.

use std::net::SocketAddr;
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

use super::{CONNECT_TIMEOUT, Failures};
use crate::cli::IdleChildArgs;
use crate::jwt::Minter;
use crate::procstat;
use crate::scenarios::Ctx;
use crate::ws;

struct ChildProc {
    child: Child,
    lines: tokio::io::Lines<BufReader<ChildStdout>>,
}

/// What the children reported once their sockets were opened.
#[derive(Debug, Default)]
pub struct Ready {
    pub established: u64,
    pub failed: u64,
    pub failure_notes: Vec<String>,
}

/// What the children reported when they let go.
#[derive(Debug, Default)]
pub struct Done {
    /// Sockets still open at the end of the hold.
    pub still_open: u64,
    /// CPU seconds the children used, together.
    pub cpu: f64,
}

/// A set of client processes holding sockets to one server.
pub struct ProcessFleet {
    children: Vec<ChildProc>,
}

/// How one fleet of child processes is laid out.
pub struct Layout {
    pub target: SocketAddr,
    pub sockets: usize,
    pub processes: usize,
    pub concurrency: usize,
    /// Each child stops by itself after this long.
    pub max_life: Duration,
    /// User names are `<prefix><process>_<k>`.
    pub prefix: String,
    /// Child `i` connects from 127.0.1.(10 + first_source + i), so that
    /// several fleets use distinct source addresses.
    pub first_source: usize,
    /// Lifetime of each socket's JWT.
    pub token_ttl: Duration,
}

/// `count` sockets shared out over `processes`: the first ones take the
/// rounded-up share, and no process gets zero.
pub fn shares(count: usize, processes: usize) -> Vec<usize> {
    let processes = processes.clamp(1, 200);
    let per = count.div_ceil(processes);
    let mut left = count;
    let mut out = Vec::new();
    while left > 0 {
        let n = per.min(left);
        out.push(n);
        left -= n;
    }
    out
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

impl ProcessFleet {
    /// Starts the children; they begin connecting at once.
    pub fn spawn(ctx: &Ctx, layout: &Layout) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
        let mut children = Vec::new();
        for (i, count) in shares(layout.sockets, layout.processes)
            .into_iter()
            .enumerate()
        {
            let mut cmd = Command::new(&exe);
            cmd.arg("idle-child")
                .arg("--url")
                .arg(format!("http://{}", layout.target))
                .arg("--prefix")
                .arg(format!("{}{i}_", layout.prefix))
                .arg("--count")
                .arg(count.to_string())
                .arg("--concurrency")
                .arg(layout.concurrency.to_string())
                .arg("--user-claim")
                .arg(&ctx.user_claim)
                .arg("--max-life")
                .arg(format!("{}s", layout.max_life.as_secs()))
                .arg("--token-ttl")
                .arg(format!("{}s", layout.token_ttl.as_secs().max(1)))
                .env("ALERTHUB_JWT_SECRET", &ctx.jwt_secret)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .kill_on_drop(true);
            if layout.target.is_ipv4() {
                let host = (10 + layout.first_source + i).min(254);
                cmd.arg("--source-ip").arg(format!("127.0.1.{host}"));
            }
            let mut child = cmd.spawn().map_err(|e| format!("spawn: {e}"))?;
            let stdout = child
                .stdout
                .take()
                .ok_or("spawn: the child has no stdout")?;
            children.push(ChildProc {
                child,
                lines: BufReader::new(stdout).lines(),
            });
        }
        Ok(Self { children })
    }

    pub fn len(&self) -> usize {
        self.children.len()
    }

    /// Waits (until `until`) for every child's `READY`.
    pub async fn ready(&mut self, until: Instant) -> Ready {
        let mut r = Ready::default();
        for c in &mut self.children {
            match next_json(c, "READY", until).await {
                Some(v) => {
                    r.established += v["established"].as_u64().unwrap_or(0);
                    r.failed += v["failed"].as_u64().unwrap_or(0);
                    if let Some(f) = v["failures"].as_str().filter(|f| !f.is_empty()) {
                        r.failure_notes.push(f.to_owned());
                    }
                }
                None => r
                    .failure_notes
                    .push("a client process never got ready".into()),
            }
        }
        r
    }

    /// Lets go: closing a child's stdin tells it to close its sockets.
    /// Waits (until `until`) for every `DONE` and exit.
    pub async fn close(&mut self, until: Instant) -> Done {
        let mut d = Done::default();
        for c in &mut self.children {
            drop(c.child.stdin.take());
        }
        for c in &mut self.children {
            if let Some(v) = next_json(c, "DONE", until).await {
                d.still_open += v["still_open"].as_u64().unwrap_or(0);
                d.cpu += v["cpu"].as_f64().unwrap_or(0.0);
            }
            let _ = tokio::time::timeout_at(until.into(), c.child.wait()).await;
            let _ = c.child.start_kill();
        }
        d
    }
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
        let token = minter.mint(&user, a.token_ttl);
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
            // Hold: answer the server's pings (tungstenite does on read) until
            // told to stop. One timer for the whole hold, not one per frame.
            let end = tokio::time::sleep_until(deadline.into());
            tokio::pin!(end);
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
                    _ = &mut end => break,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_are_shared_out_over_processes() {
        assert_eq!(shares(19_500, 4), [4_875; 4]);
        assert_eq!(shares(10, 3), [4, 4, 2]);
        assert_eq!(shares(2, 4), [1, 1]);
        assert_eq!(shares(0, 4), Vec::<usize>::new());
        assert_eq!(shares(5, 0), [5]);
        assert_eq!(shares(1_000, 1_000).len(), 200);
    }
}
