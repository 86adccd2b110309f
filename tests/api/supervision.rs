//! Supervision: a user's hub that panics is restarted by the registry for
//! the same sessions; the user's tabs keep receiving and other users never
//! notice.

use std::time::Duration;

use alerthub::actors::messages::CrashHub;
use alerthub::models::UserId;
use serde_json::{Value, json};

use alerthub_test_support::*;

use alerthub_test_support::metric_sample as metric;

/// Polls `/metrics` until the metric is `want`; fails if it does not get
/// there within PATIENCE.
async fn wait_for_metric(app: &TestApp, name: &str, want: f64) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let got = metric(&app.metrics().await, name);
        if got == Some(want) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} stayed at {got:?}, expected {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_for_restarts(app: &TestApp, want: f64) {
    wait_for_metric(app, "alerthub_hub_restarts_total", want).await;
}

async fn crash(app: &TestApp, user: &str) -> bool {
    app.registry
        .send(CrashHub(UserId::parse(user).unwrap()))
        .await
        .expect("the registry answers")
}

async fn expect_alert(tab: &mut WsClient, id: i64) {
    let frame = tab.expect("breach_alert").await;
    assert_eq!(frame["message"]["alert_id"], id, "{frame}");
}

async fn expect_marked_read(tab: &mut WsClient, id: i64, count: i64) {
    let update = tab.expect("alert_update").await;
    assert_eq!(update["message"]["alert_id"], id, "{update}");
    assert_eq!(update["message"]["update_type"], "marked_read", "{update}");
    let unread = tab.expect("unread_count").await;
    assert_eq!(unread["count"], count, "{unread}");
}

#[actix_web::test]
async fn a_crashed_hub_is_restarted_and_its_sessions_keep_receiving() {
    let app = spawn_app().await;
    let mut tab_a = app.connect("1").await;
    let mut tab_b = app.connect("1").await;
    let mut bystander = app.connect("2").await;
    assert_eq!(
        metric(&app.metrics().await, "alerthub_hub_restarts_total"),
        Some(0.0)
    );

    assert!(crash(&app, "1").await);
    wait_for_restarts(&app, 1.0).await;

    // Both tabs still get the user's alerts.
    let id = app.create_alert("1", "after-crash").await;
    expect_alert(&mut tab_a, id).await;
    expect_alert(&mut tab_b, id).await;

    // Read state still syncs across tabs.
    tab_a
        .send_json(json!({"type": "mark_read", "alert_id": id}))
        .await;
    expect_marked_read(&mut tab_a, id, 0).await;
    expect_marked_read(&mut tab_b, id, 0).await;

    // The sessions themselves never noticed.
    tab_a.assert_alive().await;
    tab_b.assert_alive().await;

    // The other user saw nothing of it, and is served as before.
    bystander.expect_silence(Duration::from_millis(200)).await;
    bystander.assert_alive().await;
    let theirs = app.create_alert("2", "bystander").await;
    expect_alert(&mut bystander, theirs).await;
    app.assert_nothing_queued("1", &mut [&mut tab_a, &mut tab_b])
        .await;

    // Exactly one restart, and the sessions are all still counted.
    let text = app.metrics().await;
    assert_eq!(metric(&text, "alerthub_hub_restarts_total"), Some(1.0));
    assert_eq!(metric(&text, "alerthub_open_connections"), Some(3.0));
}

#[actix_web::test]
async fn a_restarted_hub_takes_new_tabs_loses_old_ones_and_survives_another_crash() {
    let app = spawn_app().await;
    let mut tab_a = app.connect("1").await;
    let tab_b = app.connect("1").await;
    let mut bystander = app.connect("2").await;

    assert!(crash(&app, "1").await);
    wait_for_restarts(&app, 1.0).await;

    // A tab opened after the restart joins the new hub; a tab closed after
    // it leaves the new hub.
    let mut tab_c = app.connect("1").await;
    drop(tab_b);
    let id = app.create_alert("1", "after-first-crash").await;
    expect_alert(&mut tab_a, id).await;
    expect_alert(&mut tab_c, id).await;

    // The restarted hub can crash and be restarted too.
    assert!(crash(&app, "1").await);
    wait_for_restarts(&app, 2.0).await;
    let id = app.create_alert("1", "after-second-crash").await;
    expect_alert(&mut tab_a, id).await;
    expect_alert(&mut tab_c, id).await;
    tab_c.send_json(json!({"type": "mark_all_read"})).await;
    for tab in [&mut tab_a, &mut tab_c] {
        let update = tab.expect("alert_update").await;
        assert_eq!(update["message"]["alert_id"], Value::Null, "{update}");
        assert_eq!(update["message"]["update_type"], "marked_all_read");
        assert_eq!(tab.expect("unread_count").await["count"], 0);
    }

    let theirs = app.create_alert("2", "bystander").await;
    expect_alert(&mut bystander, theirs).await;
    bystander.assert_alive().await;

    // Once the last tab is gone the hub is retired, not restarted.
    for mut tab in [tab_a, tab_c] {
        tab.stream.close(None).await.expect("close");
        tab.drain_until_close().await;
    }
    wait_for_metric(&app, "alerthub_open_connections", 1.0).await;
    wait_for_metric(&app, "alerthub_connected_users", 1.0).await;
    assert!(!crash(&app, "1").await, "user 1 has no hub any more");
    let theirs = app.create_alert("2", "bystander-2").await;
    expect_alert(&mut bystander, theirs).await;
    let text = app.metrics().await;
    assert_eq!(metric(&text, "alerthub_hub_restarts_total"), Some(2.0));
}

#[actix_web::test]
async fn crashing_the_hub_of_a_user_without_sessions_is_refused() {
    let app = spawn_app().await;
    assert!(!crash(&app, "1").await);
    let mut ws = app.connect("2").await;
    assert!(!crash(&app, "1").await);
    ws.assert_alive().await;
    let text = app.metrics().await;
    assert_eq!(metric(&text, "alerthub_hub_restarts_total"), Some(0.0));
}
