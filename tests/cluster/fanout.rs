//! Acceptance 1 and 4 of the multi-node issue: events cross nodes once, and
//! the connect rate is counted cluster-wide.

use serde_json::json;

use crate::nodes::{Node, shared, subscribers};
use alerthub_test_support::{Closed, WsClient, close_of};

#[actix_web::test]
async fn alerts_read_state_and_counts_reach_every_node_once() {
    let Some(shared) = shared("alerts_read_state_and_counts_reach_every_node_once") else {
        return;
    };
    let a = Node::start(&shared, "node-a", &[]).await;
    let b = Node::start(&shared, "node-b", &[]).await;
    let c = Node::start(&shared, "node-c", &[]).await;
    events_reach_every_node_once([&a, &b, &c], "1", "2").await;
}

/// `user` has a tab on A and on B, `other` one on C; alerts, `mark_read`
/// and `mark_all_read` cross nodes once each, and nothing leaks to `other`.
/// Also run on several Redis shards (`sharded.rs`).
pub async fn events_reach_every_node_once([a, b, c]: [&Node; 3], user: &str, other: &str) {
    let mut on_a = a.connect(user).await;
    let mut on_b = b.connect(user).await;
    let mut other_user = c.connect(other).await;

    // Triggered through A: the tabs on A and on B get it, once.
    let first = a.create_alert(user, "x-1").await;
    for ws in [&mut on_a, &mut on_b] {
        let frame = ws.expect("breach_alert").await;
        assert_eq!(frame["message"]["alert_id"], first);
        assert!(frame["message"].get("replayed").is_none());
    }
    // Triggered through C, which holds no session of user 1.
    let second = c.create_alert(user, "x-2").await;
    for ws in [&mut on_a, &mut on_b] {
        assert_eq!(
            ws.expect("breach_alert").await["message"]["alert_id"],
            second
        );
    }

    // mark_read on B updates the tab on A; the counts agree everywhere.
    on_b.send_json(json!({"type": "mark_read", "alert_id": first}))
        .await;
    for ws in [&mut on_a, &mut on_b] {
        let update = ws.expect("alert_update").await;
        assert_eq!(update["message"]["alert_id"], first);
        assert_eq!(update["message"]["update_type"], "marked_read");
        assert_eq!(ws.expect("unread_count").await["count"], 1);
    }
    on_a.send_json(json!({"type": "get_unread_count"})).await;
    assert_eq!(on_a.expect("unread_count").await["count"], 1);

    // mark_all_read on A reaches B.
    on_a.send_json(json!({"type": "mark_all_read"})).await;
    for ws in [&mut on_a, &mut on_b] {
        assert_eq!(
            ws.expect("alert_update").await["message"]["update_type"],
            "marked_all_read"
        );
        assert_eq!(ws.expect("unread_count").await["count"], 0);
    }

    // Nothing arrived twice and nothing leaked to user 2: the next frame on
    // every tab is the next event.
    let third = b.create_alert(user, "x-3").await;
    for ws in [&mut on_a, &mut on_b] {
        assert_eq!(
            ws.expect("breach_alert").await["message"]["alert_id"],
            third
        );
    }
    let theirs = a.create_alert(other, "y-1").await;
    assert_eq!(
        other_user.expect("breach_alert").await["message"]["alert_id"],
        theirs
    );
}

#[actix_web::test]
async fn a_node_only_subscribes_to_users_it_holds() {
    let Some(shared) = shared("a_node_only_subscribes_to_users_it_holds") else {
        return;
    };
    let a = Node::start(&shared, "node-a", &[]).await;
    let b = Node::start(&shared, "node-b", &[]).await;
    let _on_a = a.connect("7").await;
    let channel = format!("{}user:7", shared.prefix);
    assert_eq!(
        subscribers(&shared.redis_url, &channel).await,
        1,
        "only node A listens for user 7"
    );
    drop(_on_a);
    // With the user's last session the node unsubscribes.
    let mut gone = false;
    for _ in 0..100 {
        if subscribers(&shared.redis_url, &channel).await == 0 {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(gone, "node A still subscribed after the last session left");
    let _ = b;
}

#[actix_web::test]
async fn the_connect_limit_holds_across_nodes() {
    let Some(shared) = shared("the_connect_limit_holds_across_nodes") else {
        return;
    };
    let a = Node::start(&shared, "node-a", &[]).await;
    let b = Node::start(&shared, "node-b", &[]).await;
    for _ in 0..10 {
        let ws: WsClient = a.connect("5").await;
        drop(ws);
    }
    assert_eq!(
        close_of(&b.ws_url("5", "")).await,
        Closed {
            code: 4029,
            reason: "rate limited".into()
        }
    );
    // Another user is not affected, on either node.
    b.connect("6").await.assert_alive().await;
}

#[actix_web::test]
async fn a_quiet_subscription_stays_up() {
    let Some(shared) = shared("a_quiet_subscription_stays_up") else {
        return;
    };
    let a = Node::start(&shared, "node-a", &[]).await;
    let b = Node::start(&shared, "node-b", &[]).await;
    let mut on_b = b.connect("1").await;
    // Longer than two of the subscriber's 5 s keep-alive PINGs.
    tokio::time::sleep(std::time::Duration::from_secs(12)).await;
    assert!(
        !b.log().contains("connection lost"),
        "node B dropped a healthy subscription:\n{}",
        b.log()
    );
    let id = a.create_alert("1", "after-quiet").await;
    assert_eq!(on_b.expect("breach_alert").await["message"]["alert_id"], id);
}
