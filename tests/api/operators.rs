//! Contract §2 (Operators) and §4: `/health`, `/ready`, `/metrics`, and the
//! JSON 404 for paths that do not exist.

use std::time::Duration;

use serde_json::{Value, json};

use alerthub_test_support::*;

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    app.send(app.http.get(app.url(path)), None).await
}

/// Asserts the shared body of `/health` and `/ready` on a healthy node.
fn assert_report(body: &Value) {
    let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "checks",
            "connections",
            "node_id",
            "status",
            "uptime_seconds",
            "users",
            "version"
        ],
        "{body}"
    );
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"), "{body}");
    assert!(
        body["node_id"].as_str().is_some_and(|s| !s.is_empty()),
        "{body}"
    );
    assert!(body["uptime_seconds"].is_u64(), "{body}");
    assert!(body["connections"].is_u64(), "{body}");
    assert!(body["users"].is_u64(), "{body}");
    assert_eq!(
        body["checks"],
        json!({"database": "ok", "redis": "disabled", "push": "ok"}),
        "{body}"
    );
}

async fn sessions(app: &TestApp) -> (u64, u64) {
    let (status, body) = get(app, "/health").await;
    assert_eq!(status, 200, "{body}");
    (
        body["connections"].as_u64().unwrap(),
        body["users"].as_u64().unwrap(),
    )
}

/// Polls `/health` (bounded) until it reports `want`; fails with the last value.
async fn wait_for_sessions(app: &TestApp, want: (u64, u64)) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let got = sessions(app).await;
        if got == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "health reports (connections, users) = {got:?}, expected {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

use alerthub_test_support::metric_value as value;

#[actix_web::test]
async fn health_reports_every_field() {
    let app = spawn_app_with(&["--node-id", "node-a"], |_| {}).await;
    let (status, body) = get(&app, "/health").await;
    assert_eq!(status, 200, "{body}");
    assert_report(&body);
    assert_eq!(body["node_id"], "node-a");
    assert_eq!(body["connections"], 0);
    assert_eq!(body["users"], 0);
    assert!(body["uptime_seconds"].as_u64().unwrap() < 60, "{body}");
}

#[actix_web::test]
async fn a_generated_node_id_is_stable() {
    let app = spawn_app().await;
    let (_, first) = get(&app, "/health").await;
    let (_, again) = get(&app, "/ready").await;
    assert_report(&first);
    assert_eq!(first["node_id"], again["node_id"]);
}

#[actix_web::test]
async fn health_counts_real_open_sessions() {
    let app = spawn_app().await;
    let mut one_a = app.connect("1").await;
    let one_b = app.connect("1").await;
    let mut two = app.connect("2").await;
    assert_eq!(sessions(&app).await, (3, 2));

    // A refused handshake is not a session.
    let closed = close_of(&app.ws_url("/ws/breach-alerts/1/?token=garbage")).await;
    assert_eq!(closed.code, 4003);
    assert_eq!(sessions(&app).await, (3, 2));

    // A tab closing cleanly...
    one_a.stream.close(None).await.unwrap();
    one_a.expect_close().await;
    wait_for_sessions(&app, (2, 2)).await;
    // ...and one whose TCP connection just drops.
    drop(one_b);
    wait_for_sessions(&app, (1, 1)).await;
    two.assert_alive().await;
    two.stream.close(None).await.unwrap();
    wait_for_sessions(&app, (0, 0)).await;
}

#[actix_web::test]
async fn ready_is_200_with_the_same_body() {
    let app = spawn_app_with(&["--node-id", "node-b"], |_| {}).await;
    let _tab = app.connect("1").await;
    let (status, body) = get(&app, "/ready").await;
    assert_eq!(status, 200, "{body}");
    assert_report(&body);
    assert_eq!(body["node_id"], "node-b");
    assert_eq!(
        (body["connections"].clone(), body["users"].clone()),
        (json!(1), json!(1))
    );
}

#[actix_web::test]
async fn metrics_count_what_happened() {
    let app = spawn_app().await;
    let text = app.metrics().await;
    for name in [
        "alerthub_open_connections",
        "alerthub_connected_users",
        "alerthub_alerts_created_total",
        "alerthub_messages_sent_total",
        "alerthub_trigger_to_send_seconds",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("# TYPE {name} "))),
            "no {name} in:\n{text}"
        );
    }
    assert_eq!(value(&text, "alerthub_alerts_created_total"), 0.0);
    assert_eq!(value(&text, "alerthub_open_connections"), 0.0);
    assert_eq!(value(&text, "alerthub_trigger_to_send_seconds_count"), 0.0);

    let mut one_a = app.connect("1").await;
    let mut one_b = app.connect("1").await;
    let _two = app.connect("2").await;
    let id = app.create_alert("1", "A").await;
    for tab in [&mut one_a, &mut one_b] {
        assert_eq!(tab.expect("breach_alert").await["message"]["alert_id"], id);
    }
    // A retry creates nothing.
    let (status, _) = app.trigger(alert_body("1", "A")).await;
    assert_eq!(status, 200);

    let text = app.metrics().await;
    assert_eq!(value(&text, "alerthub_open_connections"), 3.0);
    assert_eq!(value(&text, "alerthub_connected_users"), 2.0);
    assert_eq!(value(&text, "alerthub_alerts_created_total"), 1.0);
    // Three greetings and the alert on two tabs.
    assert_eq!(value(&text, "alerthub_messages_sent_total"), 5.0);
    // One observation per session the alert was handed to.
    assert_eq!(value(&text, "alerthub_trigger_to_send_seconds_count"), 2.0);
    assert!(value(&text, "alerthub_trigger_to_send_seconds_sum") >= 0.0);
    assert_eq!(
        value(
            &text,
            "alerthub_trigger_to_send_seconds_bucket{le=\"+Inf\"}"
        ),
        2.0
    );

    app.create_many("2", "b", 3).await;
    let text = app.metrics().await;
    assert_eq!(value(&text, "alerthub_alerts_created_total"), 4.0);
}

#[actix_web::test]
async fn metrics_count_rejected_handshakes_by_reason() {
    let app = spawn_app_with(&["--allowed-origins", "https://app.example"], |_| {}).await;
    for _ in 0..2 {
        let closed = close_of(&app.ws_url("/ws/breach-alerts/1/?token=garbage")).await;
        assert_eq!(closed.code, 4003);
    }
    let closed = close_of(&app.ws_url(&format!("/ws/breach-alerts/2/?token={}", jwt("1")))).await;
    assert_eq!(closed.code, 4003);
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        app.ws_url(&format!("/ws/breach-alerts/1/?token={}", jwt("1"))),
    )
    .unwrap();
    req.headers_mut()
        .insert("Origin", "https://evil.example".parse().unwrap());
    assert_eq!(refused_status(req).await, 403);

    let text = app.metrics().await;
    assert!(
        text.contains("# TYPE alerthub_rejected_handshakes_total counter"),
        "{text}"
    );
    let series =
        |reason: &str| format!("alerthub_rejected_handshakes_total{{reason=\"{reason}\"}}");
    assert_eq!(value(&text, &series("authentication_failed")), 2.0);
    assert_eq!(value(&text, &series("user_mismatch")), 1.0);
    assert_eq!(value(&text, &series("origin")), 1.0);
    // Rejected handshakes are not open sessions.
    assert_eq!(value(&text, "alerthub_open_connections"), 0.0);
}

#[actix_web::test]
async fn metrics_are_prometheus_text() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics answer");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
}

#[actix_web::test]
async fn an_unknown_path_is_a_json_404() {
    let app = spawn_app().await;
    for path in [
        "/nope",
        "/api/v1/nope",
        "/api/v2/alerts",
        "/healthz",
        "/ws/other/1/",
    ] {
        assert_error(&get(&app, path).await, 404, "not_found");
    }
    let response = app
        .post_as("/api/v1/alerts/1/unread", None, json!({}))
        .await;
    assert_error(&response, 404, "not_found");
}
