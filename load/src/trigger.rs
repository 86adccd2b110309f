//! The trigger side of a load: alert bodies, open-loop single triggers at a
//! fixed rate, closed-loop batches, and waiting for a phase's alerts to
//! arrive. Every alert is numbered in a [`Tracker`], which the receiving
//! sockets fill in.

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::fleet::Tracker;
use crate::fleet::accounting::{CREATED, EXISTED, FAILED};
use crate::http::HttpConn;
use crate::scenarios::Ctx;

/// The JSON of one trigger.
pub fn trigger_body(user: &str, breach_id: &str) -> String {
    format!(
        r#"{{"user_id":"{user}","breach_id":"{breach_id}","title":"Load test alert","severity":"HIGH","confidence":0.9,"source":"alerthub-load"}}"#
    )
}

/// Stores one batch (`body` from [`batch_body`]) and waits up to 30 s for
/// its 200: the setup of scenarios that need alerts stored before they
/// measure.
pub async fn store_batch(http: &mut HttpConn, ctx: &Ctx, body: &str) -> Result<(), String> {
    let resp = tokio::time::timeout(
        Duration::from_secs(30),
        http.request(
            "POST",
            "/api/v1/alerts/batch",
            Some(&ctx.service_auth),
            Some(body.as_bytes()),
        ),
    )
    .await
    .map_err(|_| "batch timed out".to_string())?
    .map_err(|e| format!("batch: {e}"))?;
    if resp.status != 200 {
        return Err(format!("batch answered {}", resp.status));
    }
    Ok(())
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
    /// Nodes of a cluster, user `u` connected to `nodes[u % len]`: each
    /// alert is triggered on another node than its user's ([`cross_node`]).
    /// Empty: every trigger goes to the context's server.
    pub nodes: Vec<SocketAddr>,
}

/// The node alert `seq` is triggered on, with `users` users spread round
/// robin over `nodes` nodes: never the user's own node (when there are two
/// or more), and every other node in turn for successive alerts of a user,
/// so the triggers go round robin over every node.
pub fn cross_node(seq: usize, users: usize, nodes: usize) -> usize {
    if nodes < 2 {
        return 0;
    }
    let users = users.max(1);
    let own = (seq % users) % nodes;
    let round = seq / users;
    (own + 1 + round % (nodes - 1)) % nodes
}

/// Runs one open-loop phase; answers its sequence range.
pub async fn open_loop(
    ctx: &Ctx,
    tracker: Arc<Tracker>,
    names: Arc<Vec<String>>,
    plan: OpenLoop,
) -> Range<usize> {
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
        let (auth, rate, deadline) = (ctx.service_auth.clone(), plan.rate, plan.deadline);
        let nodes = if plan.nodes.is_empty() {
            vec![ctx.service]
        } else {
            plan.nodes.clone()
        };
        let users = names.len();
        workers.push(tokio::spawn(async move {
            let mut conns: Vec<HttpConn> = nodes.iter().map(|a| HttpConn::new(*a)).collect();
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
                let conn = &mut conns[cross_node(seq, users, nodes.len())];
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
) -> Range<usize> {
    let seq0 = tracker.issued();
    let room = tracker.capacity() - seq0;
    let until = (Instant::now() + duration).min(deadline);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (tracker, names, next) = (tracker.clone(), names.clone(), next.clone());
        let (addr, auth) = (ctx.service, ctx.service_auth.clone());
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

/// Fills the server's table: `count` alerts for `users` (users nobody is
/// connected as, so nothing is pushed), through the batch endpoint,
/// `concurrency` requests of `size` in flight, until done or `deadline`.
/// Answers how many it created.
pub async fn prefill(
    ctx: &Ctx,
    users: usize,
    count: usize,
    size: usize,
    concurrency: usize,
    deadline: Instant,
) -> u64 {
    let size = size.clamp(1, 1000);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let next = next.clone();
        let (addr, auth, run) = (ctx.service, ctx.service_auth.clone(), ctx.run.clone());
        let user = move |k: usize| format!("pf{run}_{}", k % users.max(1));
        workers.push(tokio::spawn(async move {
            let mut conn = HttpConn::new(addr);
            let mut created = 0u64;
            while Instant::now() < deadline {
                let k0 = next.fetch_add(size, Relaxed);
                if k0 >= count {
                    break;
                }
                let k1 = (k0 + size).min(count);
                let body = batch_body((k0..k1).map(|k| (user(k), format!("P{k}"))));
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
                if let Ok(Ok(resp)) = r
                    && resp.status == 200
                {
                    created += created_in(&resp.body);
                }
            }
            created
        }));
    }
    let mut created = 0;
    for w in workers {
        created += w.await.unwrap_or(0);
    }
    created
}

/// How many results of a batch answer say `"created":true`.
pub fn created_in(body: &[u8]) -> u64 {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("results")?.as_array().map(|a| {
                a.iter()
                    .filter(|x| x.get("created").and_then(|c| c.as_bool()) == Some(true))
                    .count() as u64
            })
        })
        .unwrap_or(0)
}

/// Waits until every created alert of the range arrived and every trigger
/// answered, or `wait` passed; then a short grace to catch late doubles.
pub async fn drain(tracker: &Tracker, range: Range<usize>, wait: Duration) {
    let until = Instant::now() + wait;
    while Instant::now() < until {
        if tracker.pending(range.clone()) == (0, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
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
    fn cross_node_triggers_avoid_the_users_node_and_go_round_robin() {
        let (users, nodes) = (12, 3);
        let mut per_node = [0; 3];
        for seq in 0..users * 4 {
            let t = cross_node(seq, users, nodes);
            assert_ne!(t, (seq % users) % nodes, "alert {seq} on its user's node");
            per_node[t] += 1;
        }
        assert_eq!(per_node, [16, 16, 16]);
        // A user's successive alerts take every other node in turn.
        let of_user_0: Vec<usize> = (0..4)
            .map(|r| cross_node(r * users, users, nodes))
            .collect();
        assert_eq!(of_user_0, [1, 2, 1, 2]);
        assert_eq!(cross_node(5, 12, 1), 0);
        assert_eq!(cross_node(5, 0, 1), 0);
    }

    #[test]
    fn batch_answers_count_what_they_created() {
        let body = br#"{"results":[{"alert_id":1,"created":true},{"alert_id":2,"created":false},{"alert_id":3,"created":true}]}"#;
        assert_eq!(created_in(body), 2);
        assert_eq!(created_in(b"{}"), 0);
        assert_eq!(created_in(b"not json"), 0);
    }
}
