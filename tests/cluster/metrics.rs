//! Issue 14: a node with Redis exports `alerthub_redis_up` and the ingest
//! stream's backlog (`alerthub_ingest_pending`, the oldest pending entry's
//! age, entries not yet handed out), read from Redis at each scrape.

use std::time::Duration;

use deadpool_redis::redis::streams::{StreamReadOptions, StreamReadReply};
use deadpool_redis::redis::{self, AsyncCommands};
use serde_json::json;

use crate::nodes::{Node, OwnRedis, shared};

/// The value of an unlabelled sample, failing when it is missing.
fn gauge(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            (series == name).then(|| value.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
}

#[actix_web::test]
async fn ingest_backlog_and_redis_up_are_exported() {
    let Some(shared) = shared("ingest_backlog_and_redis_up_are_exported") else {
        return;
    };
    // A Redis of the test's own: it is stopped at the end.
    let mut own = OwnRedis::start(shared.dir.path()).await;
    let client = redis::Client::open(own.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let stream = format!("{}ingest", shared.prefix);
    let group = "alerthub-nodes";
    let _: () = conn
        .xgroup_create_mkstream(&stream, group, "0")
        .await
        .unwrap();
    // Three entries taken by a consumer that never acknowledges them (a
    // node that hangs), before any node runs.
    for i in 0..3 {
        let alert = json!({"user_id": "7", "breach_id": format!("LAG-{i}"),
                           "title": "t", "severity": "low", "confidence": 0.5});
        let _: String = conn
            .xadd(&stream, "*", &[("alert", alert.to_string())])
            .await
            .unwrap();
    }
    let taken: StreamReadReply = conn
        .xread_options(
            &[&stream],
            &[">"],
            &StreamReadOptions::default().group(group, "ghost").count(3),
        )
        .await
        .unwrap();
    assert_eq!(taken.keys[0].ids.len(), 3);
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // The node would take them over only after 600 s.
    let node = Node::start_with_redis(
        &shared,
        "node-a",
        &own.url(),
        &[("ALERTHUB_INGEST_CLAIM_IDLE_SECS", "600")],
    )
    .await;
    let text = node.metrics().await;
    assert_eq!(gauge(&text, "alerthub_redis_up"), 1.0);
    assert_eq!(gauge(&text, "alerthub_database_up"), 1.0);
    assert_eq!(gauge(&text, "alerthub_ingest_pending"), 3.0);
    let age = gauge(&text, "alerthub_ingest_oldest_pending_age_seconds");
    assert!((1.0..120.0).contains(&age), "oldest pending age {age}");
    assert_eq!(gauge(&text, "alerthub_ingest_undelivered"), 0.0);

    // Acknowledged: the backlog is gone at the next scrape.
    let ids: Vec<String> = taken.keys[0].ids.iter().map(|e| e.id.clone()).collect();
    let _: i64 = conn.xack(&stream, group, &ids).await.unwrap();
    let text = node.metrics().await;
    assert_eq!(gauge(&text, "alerthub_ingest_pending"), 0.0);
    assert_eq!(
        gauge(&text, "alerthub_ingest_oldest_pending_age_seconds"),
        0.0
    );

    // Redis gone: the scrape still answers, within its checks' bounds, and says so.
    own.stop().await;
    let started = std::time::Instant::now();
    let text = node.metrics().await;
    assert_eq!(gauge(&text, "alerthub_redis_up"), 0.0);
    assert_eq!(gauge(&text, "alerthub_database_up"), 1.0);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
