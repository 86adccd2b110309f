//! Issue 16, acceptance 2: the multi-node suite on several Redis shards
//! (`REDIS_URL` = a comma-separated list), each shard a `redis-server` of
//! the test's own on a spare port.
//!
//! - events cross nodes once, for users on every shard, and each user's
//!   channel and connect window live on that user's shard only;
//! - ingest with a node SIGKILLed, entries spread over every shard's stream;
//! - one shard restarted mid-traffic: its users get what they missed by
//!   catch-up, the other shard's users are not affected at all;
//! - a token revocation and a sign-out (contract §5) close the sessions on
//!   other nodes for users on a shard other than the control channel's
//!   (shard 0), and a node started later on the same shards refuses the
//!   voided JWT.

use std::collections::BTreeMap;
use std::time::Duration;

use deadpool_redis::redis;
use serde_json::{Value, json};

use crate::fanout::events_reach_every_node_once;
use crate::ingest::ingest_with_a_killed_node;
use crate::nodes::{Node, OwnShards, Shared, redis_connection, shared, subscribers};
use crate::sessions::{
    revocation_closes_the_sessions_on_another, sign_out_holds_on_every_node_and_on_later_ones,
};
use alerthub::models::UserId;
use alerthub::redis::shard::shard_of;
use alerthub_test_support::{Closed, WsClient, close_of};

/// A user id (with `tag` in it) that lives on `shard` of `count` shards.
fn user_on(shard: usize, count: usize, tag: &str) -> String {
    (0..)
        .map(|i| format!("{tag}{i}"))
        .find(|id| shard_of(&UserId::parse(id).unwrap(), count) == shard)
        .unwrap()
}

/// `count` Redis shards of the test's own and a node per name on them all.
pub async fn sharded_nodes(
    shared: &Shared,
    count: usize,
    names: &[&str],
) -> (OwnShards, Vec<Node>) {
    let shards = OwnShards::start(shared.dir.path(), count).await;
    let url = shards.redis_url();
    let mut nodes = Vec::new();
    for name in names {
        nodes.push(Node::start_with_redis(shared, name, &url, &[]).await);
    }
    (shards, nodes)
}

#[actix_web::test]
async fn events_cross_nodes_once_on_three_shards() {
    let Some(shared) = shared("events_cross_nodes_once_on_three_shards") else {
        return;
    };
    let (shards, nodes) = sharded_nodes(&shared, 3, &["node-a", "node-b", "node-c"]).await;
    let [a, b, c] = &nodes[..] else {
        unreachable!()
    };
    for shard in 0..3 {
        let user = user_on(shard, 3, "s");
        let other = user_on((shard + 1) % 3, 3, "o");
        events_reach_every_node_once([a, b, c], &user, &other).await;
    }

    // A user's channel is subscribed on that user's shard, and only there.
    let user = user_on(2, 3, "p");
    let _tab = a.connect(&user).await;
    let channel = format!("{}user:{user}", shared.prefix);
    let urls = shards.urls();
    let mut held = Vec::new();
    for url in &urls {
        held.push(subscribers(url, &channel).await);
    }
    assert_eq!(held, [0, 0, 1], "user {user}'s channel, per shard");

    // The connect limit holds across nodes, counted on the user's shard.
    let limited = user_on(1, 3, "l");
    for _ in 0..10 {
        drop(a.connect(&limited).await);
    }
    assert_eq!(
        close_of(&b.ws_url(&limited, "")).await,
        Closed {
            code: 4029,
            reason: "rate limited".into()
        }
    );
    let key = format!("{}connect:{limited}", shared.prefix);
    let mut exists = Vec::new();
    for url in &urls {
        let n: u64 = redis::cmd("EXISTS")
            .arg(&key)
            .query_async(&mut redis_connection(url).await)
            .await
            .unwrap();
        exists.push(n);
    }
    assert_eq!(
        exists,
        [0, 1, 0],
        "user {limited}'s connect window, per shard"
    );
}

#[actix_web::test]
async fn ingest_survives_a_killed_node_on_two_shards() {
    let Some(shared) = shared("ingest_survives_a_killed_node_on_two_shards") else {
        return;
    };
    let shards = OwnShards::start(shared.dir.path(), 2).await;
    ingest_with_a_killed_node(&shared, &shards.urls()).await;
}

/// What one tab received: how often each alert id, and how many
/// `unread_count` frames (sent here only by a catch-up: nothing in this test
/// marks anything read).
#[derive(Debug, Default)]
struct Seen {
    alerts: BTreeMap<i64, usize>,
    unread_counts: usize,
}

impl Seen {
    /// Counts one frame; true for the `pong` that ends `strays`.
    fn count(&mut self, frame: &Value) -> bool {
        match frame["type"].as_str() {
            Some("breach_alert") => {
                let id = frame["message"]["alert_id"].as_i64().unwrap();
                *self.alerts.entry(id).or_insert(0) += 1;
            }
            Some("unread_count") => self.unread_counts += 1,
            Some("pong") => return true,
            _ => {}
        }
        false
    }

    /// Reads until every id of `want` has arrived.
    async fn until(&mut self, ws: &mut WsClient, want: &[i64]) {
        while !want.iter().all(|id| self.alerts.contains_key(id)) {
            self.count(&ws.next_json().await);
        }
    }

    /// Waits a moment for strays (a late duplicate, a catch-up), then reads
    /// up to a pong.
    async fn strays(&mut self, ws: &mut WsClient) {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        ws.send_json(json!({"type": "ping", "timestamp": "strays?"}))
            .await;
        while !self.count(&ws.next_json().await) {}
    }
}

/// `n` rounds of one alert per user through each node; the ids by user.
async fn traffic(
    nodes: [&Node; 2],
    users: [&str; 2],
    phase: &str,
    n: usize,
    sent: &mut BTreeMap<String, Vec<i64>>,
) {
    for i in 0..n {
        for user in users {
            for node in nodes {
                let breach = format!("{phase}-{}-{i}", node.name);
                let id = node.create_alert(user, &breach).await;
                sent.entry(user.to_owned()).or_default().push(id);
            }
        }
    }
}

async fn shard_status(node: &Node) -> Value {
    node.status("/health").await.unwrap().1["checks"]["redis_shards"].clone()
}

async fn wait_for_shards(node: &Node, want: Value) {
    for _ in 0..300 {
        if shard_status(node).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "node {} never reported shards {want}; log:\n{}",
        node.name,
        node.log()
    );
}

#[actix_web::test]
async fn a_shard_restart_loses_nothing_and_spares_the_other_shard() {
    let Some(shared) = shared("a_shard_restart_loses_nothing_and_spares_the_other_shard") else {
        return;
    };
    let (mut shards, nodes) = sharded_nodes(&shared, 2, &["node-a", "node-b"]).await;
    let [a, b] = &nodes[..] else { unreachable!() };
    // `steady` lives on shard 0, which stays up; `hit` on shard 1.
    let steady = user_on(0, 2, "steady");
    let hit = user_on(1, 2, "hit");
    let mut tabs = BTreeMap::new();
    for (node, user) in [(a, &steady), (b, &steady), (a, &hit), (b, &hit)] {
        let tab = node.connect(user).await;
        tabs.insert((node.name.clone(), user.clone()), (tab, Seen::default()));
    }
    let mut sent: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let (pair, users) = ([a, b], [steady.as_str(), hit.as_str()]);
    traffic(pair, users, "before", 2, &mut sent).await;

    shards.0[1].stop().await;
    wait_for_shards(a, json!(["ok", "down"])).await;
    wait_for_shards(b, json!(["ok", "down"])).await;
    // Both nodes still serve: a shard outage must not empty the load
    // balancer.
    assert_eq!(a.status("/ready").await.unwrap().0, 200);
    assert_eq!(
        b.status("/health").await.unwrap().1["checks"]["redis"],
        "down"
    );
    let metrics = a.metrics().await;
    assert!(
        metrics.contains("alerthub_redis_shard_up{shard=\"0\"} 1")
            && metrics.contains("alerthub_redis_shard_up{shard=\"1\"} 0"),
        "{metrics}"
    );
    traffic(pair, users, "during", 5, &mut sent).await;
    // Users of the healthy shard get every alert from both nodes, live,
    // while shard 1 is still down.
    for node in ["node-a", "node-b"] {
        let (ws, seen) = tabs.get_mut(&(node.to_owned(), steady.clone())).unwrap();
        seen.until(ws, &sent[&steady]).await;
        assert!(seen.alerts.values().all(|n| *n == 1), "{node}: {seen:?}");
    }

    shards.0[1].restart().await;
    wait_for_shards(a, json!(["ok", "ok"])).await;
    wait_for_shards(b, json!(["ok", "ok"])).await;
    traffic(pair, users, "after", 2, &mut sent).await;

    // Every alert reached every tab of its user once: the shard-1 user's
    // by catch-up from storage, the shard-0 user's live.
    for ((node, user), (ws, seen)) in &mut tabs {
        let want = &sent[user];
        seen.until(ws, want).await;
        seen.strays(ws).await;
        assert!(
            want.iter().all(|id| seen.alerts.get(id) == Some(&1))
                && seen.alerts.len() == want.len(),
            "{node}, user {user}: wanted each of {want:?} once, got {seen:?}"
        );
        // Only the restarted shard's users were caught up (a catch-up ends
        // with a fresh unread_count, even when it finds nothing missed).
        if *user == steady {
            assert_eq!(seen.unread_counts, 0, "{node}: {user} was caught up");
        } else {
            assert!(seen.unread_counts >= 1, "{node}: {user} was not caught up");
        }
    }
    // The healthy shard's user missed nothing live (a catch-up finding
    // something is logged), and only shard 1's connections dropped.
    for node in [a, b] {
        let log = node.log();
        assert!(
            !log.contains(&format!("user {steady}: delivering")),
            "{}: the healthy shard's user needed a catch-up:\n{log}",
            node.name
        );
        assert!(log.contains("redis subscriber (shard 1): connection lost"));
        assert!(!log.contains("redis subscriber (shard 0): connection lost"));
    }
}

#[actix_web::test]
async fn revocation_and_sign_out_cross_nodes_on_three_shards() {
    let Some(shared) = shared("revocation_and_sign_out_cross_nodes_on_three_shards") else {
        return;
    };
    let (shards, nodes) = sharded_nodes(&shared, 3, &["node-a", "node-b"]).await;
    let [a, b] = &nodes[..] else { unreachable!() };
    // Users away from shard 0, which carries the control channel (the
    // sessions to close and the user's own channel are on another shard).
    for shard in [1, 2] {
        revocation_closes_the_sessions_on_another(a, b, &user_on(shard, 3, "r")).await;
    }
    let (user, neighbour) = (user_on(2, 3, "so"), user_on(1, 3, "nb"));
    sign_out_holds_on_every_node_and_on_later_ones(
        &shared,
        &shards.redis_url(),
        [a, b],
        &user,
        &neighbour,
    )
    .await;
}
