//! Acceptance 2 of the multi-node issue: Redis restarted mid-test. Local
//! delivery goes on, cross-node delivery resumes, and every alert that got a
//! 201 during the outage reaches its user, none twice.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::nodes::{Node, OwnRedis, shared};
use alerthub_test_support::WsClient;

/// Reads frames until `want` alert ids have all arrived; returns how often
/// each alert id arrived (other frame types are skipped).
async fn collect_alerts(ws: &mut WsClient, want: &[i64]) -> BTreeMap<i64, usize> {
    let mut seen = BTreeMap::new();
    while !want.iter().all(|id| seen.contains_key(id)) {
        let frame: Value = ws.next_json().await;
        if frame["type"] == "breach_alert" {
            *seen
                .entry(frame["message"]["alert_id"].as_i64().unwrap())
                .or_insert(0) += 1;
        }
    }
    seen
}

#[actix_web::test]
async fn a_redis_restart_loses_and_repeats_nothing() {
    let Some(shared) = shared("a_redis_restart_loses_and_repeats_nothing") else {
        return;
    };
    let mut redis = OwnRedis::start(shared.dir.path()).await;
    let a = Node::start_with_redis(&shared, "node-a", &redis.url(), &[]).await;
    let b = Node::start_with_redis(&shared, "node-b", &redis.url(), &[]).await;
    let mut on_a = a.connect("1").await;
    let mut on_b = b.connect("1").await;
    let warm = a.create_alert("1", "warm").await;
    assert_eq!(collect_alerts(&mut on_b, &[warm]).await[&warm], 1);
    assert_eq!(collect_alerts(&mut on_a, &[warm]).await[&warm], 1);

    redis.stop().await;
    a.wait_for_ready_status(503).await;
    b.wait_for_ready_status(503).await;
    let (status, health) = a.status("/health").await.unwrap();
    assert_eq!(
        (status, health["checks"]["redis"].as_str()),
        (200, Some("down")),
        "{health}"
    );

    // During the outage every trigger still gets a 201, and each node's own
    // sessions still get their node's alerts live.
    let mut from_a = Vec::new();
    let mut from_b = Vec::new();
    for i in 0..5 {
        from_a.push(a.create_alert("1", &format!("outage-a-{i}")).await);
        from_b.push(b.create_alert("1", &format!("outage-b-{i}")).await);
    }
    let seen_a = collect_alerts(&mut on_a, &from_a).await;
    assert!(from_a.iter().all(|id| seen_a[id] == 1), "{seen_a:?}");
    let seen_b = collect_alerts(&mut on_b, &from_b).await;
    assert!(from_b.iter().all(|id| seen_b[id] == 1), "{seen_b:?}");

    redis.restart().await;
    a.wait_ready().await;
    b.wait_ready().await;
    // Cross-node delivery resumes: the alerts the other node created during
    // the outage arrive (caught up from storage), then new ones live.
    let after = a.create_alert("1", "after").await;
    let mut on_b_all = from_a.clone();
    on_b_all.push(after);
    let caught_b = collect_alerts(&mut on_b, &on_b_all).await;
    let mut on_a_all = from_b.clone();
    on_a_all.push(after);
    let caught_a = collect_alerts(&mut on_a, &on_a_all).await;

    // None twice: everything each tab saw after the outage, plus what it saw
    // during it, is each alert exactly once.
    for (seen, during) in [(caught_a, seen_a), (caught_b, seen_b)] {
        for (id, n) in &seen {
            let total = n + during.get(id).copied().unwrap_or(0);
            assert_eq!(total, 1, "alert {id} arrived {total} times");
        }
    }
    // And a reconnect with `since` adds nothing new.
    let mut again = WsClient::open(&b.ws_url("1", &format!("&since={after}")))
        .await
        .unwrap();
    again.expect("connection_established").await;
    again.assert_alive().await;
}

/// A node keeps its publishing connection between alerts
/// (`redis::publisher`). After a Redis restart that nothing was published
/// through, the kept connection is dead: the first alert after it must still
/// reach the other node live, not be dropped with the dead connection.
#[actix_web::test]
async fn the_first_alert_after_a_quiet_redis_restart_reaches_the_other_node() {
    let Some(shared) = shared("the_first_alert_after_a_quiet_redis_restart_reaches_the_other_node")
    else {
        return;
    };
    let mut redis = OwnRedis::start(shared.dir.path()).await;
    let a = Node::start_with_redis(&shared, "node-a", &redis.url(), &[]).await;
    let b = Node::start_with_redis(&shared, "node-b", &redis.url(), &[]).await;
    let mut on_b = b.connect("1").await;
    // Node a's publisher now holds a connection.
    let warm = a.create_alert("1", "warm").await;
    assert_eq!(collect_alerts(&mut on_b, &[warm]).await[&warm], 1);

    redis.stop().await;
    a.wait_for_ready_status(503).await;
    b.wait_for_ready_status(503).await;
    redis.restart().await;
    a.wait_ready().await;
    b.wait_ready().await;
    // A user whose session opens after node b caught up from storage, and
    // whose replay is over (the server reads no message during one): the
    // alert can reach it only live, through Redis.
    let mut fresh = b.connect("2").await;
    fresh.assert_alive().await;
    let after = a.create_alert("2", "after").await;
    assert_eq!(collect_alerts(&mut fresh, &[after]).await[&after], 1);
}

/// After a Redis restart a node catches its users up with one storage call
/// for a whole group of hubs, not two per hub: a shard of 33,000 users
/// returning made every node ask storage tens of thousands of times at
/// once, and every trigger, of every user, waited seconds behind that
/// (docs/capacity.md, "Seventeenth session").
#[actix_web::test]
async fn a_catch_up_asks_storage_once_for_many_users() {
    let Some(shared) = shared("a_catch_up_asks_storage_once_for_many_users") else {
        return;
    };
    let mut redis = OwnRedis::start(shared.dir.path()).await;
    let a = Node::start_with_redis(&shared, "node-a", &redis.url(), &[]).await;
    let b = Node::start_with_redis(&shared, "node-b", &redis.url(), &[]).await;
    const USERS: usize = 40;
    let users: Vec<String> = (0..USERS).map(|u| format!("{}", 500 + u)).collect();
    let mut tabs = Vec::new();
    for user in &users {
        tabs.push(b.connect(user).await);
    }
    redis.stop().await;
    b.wait_for_ready_status(503).await;
    let mut missed = Vec::new();
    for user in &users {
        missed.push(a.create_alert(user, "while-redis-was-away").await);
    }
    let before = b.counter("alerthub_db_queries_total").await;
    redis.restart().await;
    for (tab, id) in tabs.iter_mut().zip(&missed) {
        assert_eq!(collect_alerts(tab, &[*id]).await[id], 1);
        // Then the user's own count, from the group's one count query.
        assert_eq!(tab.expect("unread_count").await["count"], 1);
    }
    let queries = b.counter("alerthub_db_queries_total").await - before;
    // The group's two statements (the alerts, the counts), the pool's check
    // of a connection idle for a while, and a scrape's or the sign-out
    // poll's own; two per hub would be 80.
    assert!(
        queries <= 10,
        "{queries} statements to catch up {USERS} users"
    );
}
