//! Acceptance 2 of the Web Push issue: two nodes, and the node that stored
//! an alert is killed with SIGKILL before the push delay ends. The schedule
//! lives in the shared database, so the other node sends the alert —
//! exactly once.

use std::time::Duration;

use serde_json::Value;

use crate::nodes::{Node, shared};
use alerthub_test_support::jwt;
use alerthub_test_support::push_service::PushService;

const PUSH: &[(&str, &str)] = &[
    ("ALERTHUB_PUSH_DELAY", "3"),
    ("ALERTHUB_PUSH_ALLOW_INSECURE", "1"),
];

async fn vapid_key(node: &Node) -> String {
    let (status, body) = node
        .status("/api/v1/push/vapid-public-key")
        .await
        .expect("node answers");
    assert_eq!(status, 200, "{body}");
    body["public_key"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn an_alert_whose_node_died_is_pushed_once_by_the_other() {
    let Some(shared) = shared("an_alert_whose_node_died_is_pushed_once_by_the_other") else {
        return;
    };
    let mut storing = Node::start(&shared, "push-a", PUSH).await;
    let other = Node::start(&shared, "push-b", PUSH).await;
    // One development key for the cluster, kept in the shared database.
    let key = vapid_key(&storing).await;
    assert_eq!(vapid_key(&other).await, key);
    let service = PushService::start().await;
    service.expect_vapid_key(&key);

    let mut response = storing
        .http
        .post(storing.url("/api/v1/push/subscriptions"))
        .insert_header(("Authorization", format!("Bearer {}", jwt("cp1"))))
        .send_json(&service.subscription("cluster"))
        .await
        .expect("node answers");
    assert_eq!(response.status().as_u16(), 201);
    let _: Value = response.json().await.unwrap();

    // Both nodes alive and polling: one of them sends it, once.
    let first = storing.create_alert("cp1", "B-both").await;
    let got = service
        .wait_delivered("cluster", 1, Duration::from_secs(30))
        .await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload["alert"]["alert_id"], first);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(service.attempts("cluster"), 1);
    let sent_by_other = other.counter("alerthub_push_sent_total").await;

    let id = storing.create_alert("cp1", "B-cluster").await;
    storing.kill().await;

    let got = service
        .wait_delivered("cluster", 2, Duration::from_secs(30))
        .await;
    assert_eq!(got.len(), 2, "{}", other.log());
    assert_eq!(got[1].payload["alert"]["alert_id"], id);
    // Nothing more comes: the other node recorded it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(service.attempts("cluster"), 2);
    assert_eq!(
        other.counter("alerthub_push_sent_total").await,
        sent_by_other + 1
    );
    service.assert_no_violations();
}
