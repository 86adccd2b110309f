//! Acceptance 3 of the multi-node issue: 10,000 entries on the ingest
//! stream while one of two nodes is killed with SIGKILL halfway. Every
//! valid entry is stored exactly once and pushed; invalid entries are
//! acknowledged and counted. `ingest_with_a_killed_node` also runs on
//! several Redis shards (`sharded.rs`), entries spread over every shard's
//! stream.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use deadpool_redis::redis::{self, AsyncCommands};
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::nodes::{Node, Shared, shared};
use alerthub_test_support::WsClient;

const USERS: usize = 20;
const HALF: usize = 5_000;
/// Invalid entries, all in the second half (after the kill), so that the
/// surviving node's counter must account for every one of them.
const INVALID: usize = 100;

fn entry(i: usize) -> String {
    let severity = ["low", "medium", "high", "critical"][i % 4];
    json!({
        "user_id": format!("u{}", i % USERS),
        "breach_id": format!("ING-{i}"),
        "title": format!("Ingested {i}"),
        "severity": severity,
        "confidence": 0.5,
        "source": "scanner",
    })
    .to_string()
}

/// In the second half, every 50th entry is invalid (100 in all).
fn is_invalid(i: usize) -> bool {
    i >= HALF && i.is_multiple_of(50)
}

/// Four kinds of bad entry: not JSON, a bad field, an unknown field, and
/// no `alert` field at all (handled by the caller).
fn invalid(i: usize) -> Option<String> {
    match (i / 50) % 4 {
        0 => Some("{not json".into()),
        1 => Some(json!({"user_id": "u1", "breach_id": format!("BAD-{i}"), "title": "t", "severity": "urgent", "confidence": 0.5}).to_string()),
        2 => Some(json!({"user_id": "u1", "breach_id": format!("BAD-{i}"), "title": "t", "severity": "low", "confidence": 0.5, "colour": "red"}).to_string()),
        _ => None,
    }
}

async fn stored(url: &str) -> i64 {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        use alerthub::models::schema::alerts::dsl::*;
        let mut conn = alerthub::storage::establish_postgres(&url).unwrap();
        alerts
            .filter(breach_id.like("ING-%"))
            .count()
            .get_result::<i64>(&mut conn)
            .unwrap()
    })
    .await
    .unwrap()
}

#[actix_web::test]
async fn ingest_survives_a_killed_node_storing_each_entry_once() {
    let Some(shared) = shared("ingest_survives_a_killed_node_storing_each_entry_once") else {
        return;
    };
    let urls = vec![shared.redis_url.clone()];
    ingest_with_a_killed_node(&shared, &urls).await;
}

/// Pending entries on every shard's stream: (all of them, node A's).
async fn pending(conns: &mut [redis::aio::MultiplexedConnection], stream: &str) -> (usize, usize) {
    let (mut all, mut a_held) = (0, 0);
    for conn in conns {
        let pending: redis::streams::StreamPendingReply =
            conn.xpending(stream, "alerthub-nodes").await.unwrap();
        all += pending.count();
        if let redis::streams::StreamPendingReply::Data(data) = &pending {
            a_held += data
                .consumers
                .iter()
                .find(|c| c.name == "node-a")
                .map_or(0, |c| c.pending);
        }
    }
    (all, a_held)
}

/// The test on the Redis shards `urls` (one or more): 500-entry chunks go
/// to the shards' streams in turn.
pub async fn ingest_with_a_killed_node(shared: &Shared, urls: &[String]) {
    let redis_url = urls.join(",");
    let mut a = Node::start_with_redis(shared, "node-a", &redis_url, &[]).await;
    let b = Node::start_with_redis(shared, "node-b", &redis_url, &[]).await;
    // Every user has a tab on the surviving node.
    let mut tabs: Vec<WsClient> = Vec::new();
    for u in 0..USERS {
        tabs.push(b.connect(&format!("u{u}")).await);
    }
    let mut expected = [0usize; USERS];
    for i in (0..2 * HALF).filter(|i| !is_invalid(*i)) {
        expected[i % USERS] += 1;
    }
    let readers: Vec<_> = tabs
        .into_iter()
        .zip(expected)
        .map(|(mut ws, per_user)| {
            actix_web::rt::spawn(async move {
                let mut ids = Vec::new();
                while ids.len() < per_user {
                    let frame: Value = ws.next_json().await;
                    if frame["type"] == "breach_alert" {
                        ids.push(frame["message"]["alert_id"].as_i64().unwrap());
                    }
                }
                ids
            })
        })
        .collect();

    let mut conns = Vec::new();
    for url in urls {
        let client = redis::Client::open(url.as_str()).unwrap();
        conns.push(client.get_multiplexed_async_connection().await.unwrap());
    }
    let shard_of_chunk = |chunk: usize| (chunk / 500) % urls.len();
    let stream = format!("{}ingest", shared.prefix);
    let add = |from: usize, to: usize| {
        let mut pipe = redis::pipe();
        for i in from..to {
            match (is_invalid(i), invalid(i)) {
                (true, Some(text)) => pipe.xadd(&stream, "*", &[("alert", text)]),
                (true, None) => pipe.xadd(&stream, "*", &[("something_else", "x".to_string())]),
                (false, _) => pipe.xadd(&stream, "*", &[("alert", entry(i))]),
            };
        }
        pipe
    };
    for chunk in (0..HALF).step_by(500) {
        let _: () = add(chunk, chunk + 500)
            .query_async(&mut conns[shard_of_chunk(chunk)])
            .await
            .unwrap();
    }
    // Halfway through storing, while it holds entries it has not yet
    // acknowledged, node A dies without a word.
    let mut a_held = 0;
    for _ in 0..1500 {
        a_held = pending(&mut conns, &stream).await.1;
        if a_held > 0 && stored(&shared.database.url).await >= (HALF / 2) as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(a_held > 0, "node A never held pending entries");
    a.kill().await;
    for chunk in (HALF..2 * HALF).step_by(500) {
        let _: () = add(chunk, chunk + 500)
            .query_async(&mut conns[shard_of_chunk(chunk)])
            .await
            .unwrap();
    }

    // Everything valid is stored exactly once (the unique (user, breach)
    // pair makes "more than once" impossible to hide), nothing stays pending.
    let valid = (2 * HALF - INVALID) as i64;
    let mut done = false;
    for _ in 0..900 {
        if stored(&shared.database.url).await == valid && pending(&mut conns, &stream).await.0 == 0
        {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        done,
        "stored {} of {valid}; node B log:\n{}",
        stored(&shared.database.url).await,
        b.log()
    );
    assert_eq!(
        b.counter("alerthub_ingest_invalid_total").await,
        INVALID as u64
    );
    assert!(
        b.log().contains("took over"),
        "node B never claimed node A's entries"
    );

    // Every valid entry was pushed to its user's tab, once.
    let mut pushed: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for (u, reader) in readers.into_iter().enumerate() {
        let ids = tokio::time::timeout(Duration::from_secs(60), reader)
            .await
            .unwrap_or_else(|_| panic!("user u{u} did not get all alerts pushed"))
            .unwrap();
        let unique: BTreeSet<i64> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "user u{u} got an alert twice");
        pushed.insert(format!("u{u}"), unique);
    }
    assert_eq!(
        pushed.values().map(BTreeSet::len).sum::<usize>(),
        valid as usize
    );
}
