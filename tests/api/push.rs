//! Contract §6, Web Push: the VAPID key and the subscriptions API, and what
//! reaches a real push service on loopback (`support::push_service`, which
//! checks the VAPID JWT and decrypts with the `ece` crate): one message per
//! subscription per alert, none for an alert read before the delay or below
//! the minimum severity, 410 deletes the subscription, 503 with
//! `Retry-After` is retried and delivered once, and a push service that
//! never answers delays neither triggers nor WebSocket delivery.

use std::time::{Duration, Instant};

use awc::http::Method;
use base64::Engine;
use serde_json::{Value, json};

use alerthub_test_support::push_service::{PushService, Reply};
use alerthub_test_support::*;

fn bearer(user: &str) -> String {
    format!("Bearer {}", jwt(user))
}

/// A server that pushes, polling often, with these extra flags.
async fn push_app(flags: &[&str]) -> TestApp {
    let mut all = vec!["--push-allow-insecure"];
    all.extend_from_slice(flags);
    spawn_app_with(&all, |s| {
        s.limits.push_poll_interval = Duration::from_millis(100);
        s.limits.push_send_timeout = Duration::from_secs(2);
    })
    .await
}

/// The loopback push service, told which VAPID key the server advertises.
async fn service_for(app: &TestApp) -> PushService {
    let (status, body) = app
        .send(app.http.get(app.url("/api/v1/push/vapid-public-key")), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let service = PushService::start().await;
    service.expect_vapid_key(body["public_key"].as_str().unwrap());
    service
}

async fn subscribe(app: &TestApp, user: &str, subscription: &Value) -> (u16, Value) {
    app.post_as(
        "/api/v1/push/subscriptions",
        Some(&bearer(user)),
        subscription.clone(),
    )
    .await
}

async fn subscriptions(app: &TestApp, user: &str) -> Vec<Value> {
    let (status, body) = app
        .get_as("/api/v1/push/subscriptions", &bearer(user))
        .await;
    assert_eq!(status, 200, "{body}");
    body["subscriptions"].as_array().unwrap().clone()
}

async fn trigger(app: &TestApp, user: &str, breach: &str, severity: &str) -> i64 {
    let mut body = alert_body(user, breach);
    body["severity"] = json!(severity);
    let (status, body) = app.trigger(body).await;
    assert_eq!(status, 201, "{body}");
    body["alert"]["alert_id"].as_i64().unwrap()
}

use alerthub_test_support::metric_count as metric;

#[actix_web::test]
async fn the_vapid_key_and_a_users_own_subscriptions() {
    let app = push_app(&[]).await;
    let (status, body) = app
        .send(app.http.get(app.url("/api/v1/push/vapid-public-key")), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    let point = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body["public_key"].as_str().unwrap())
        .unwrap();
    assert_eq!((point.len(), point[0]), (65, 4), "uncompressed P-256 point");

    let service = service_for(&app).await;
    let browser = service.subscription("crud");
    let (status, created) = subscribe(&app, "pu1", &browser).await;
    assert_eq!(status, 201, "{created}");
    let sub = &created["subscription"];
    assert_eq!(sub["endpoint"], browser["endpoint"]);
    assert!(
        sub["id"].is_i64() && sub["created_at"].is_string(),
        "{created}"
    );
    assert_eq!(
        sub.as_object().unwrap().len(),
        3,
        "no keys shown: {created}"
    );
    // The same endpoint again: 200 with the stored subscription.
    let (status, again) = subscribe(&app, "pu1", &browser).await;
    assert_eq!((status, &again), (200, &created));
    assert_eq!(subscriptions(&app, "pu1").await, vec![sub.clone()]);
    assert!(subscriptions(&app, "pu2").await.is_empty());

    // Bad input: 422 naming every bad field.
    let mut bad = browser.clone();
    bad["endpoint"] = json!("http://push.example/x");
    bad["keys"]["auth"] = json!("c2hvcnQ");
    let response = subscribe(&app, "pu1", &bad).await;
    let details = assert_error(&response, 422, "validation_failed");
    assert!(details["endpoint"].is_string() && details["keys.auth"].is_string());
    let mut bad = browser.clone();
    bad["keys"]["p256dh"] = json!("AAAA");
    let details = assert_error(
        &subscribe(&app, "pu1", &bad).await,
        422,
        "validation_failed",
    );
    assert!(details["keys.p256dh"].is_string(), "{details}");
    // No credential: 401.
    let response = app
        .post_as("/api/v1/push/subscriptions", None, browser.clone())
        .await;
    assert_error(&response, 401, "unauthorized");

    // Another user's subscription is not found; one's own is deleted.
    let path = format!("/api/v1/push/subscriptions/{}", sub["id"]);
    let delete = |user: &str| {
        app.http
            .request(Method::DELETE, app.url(&path))
            .insert_header(("Authorization", bearer(user)))
    };
    assert_error(&app.send(delete("pu2"), None).await, 404, "not_found");
    assert_eq!(app.send(delete("pu1"), None).await.0, 204);
    assert!(subscriptions(&app, "pu1").await.is_empty());
    assert_error(&app.send(delete("pu1"), None).await, 404, "not_found");
}

#[actix_web::test]
async fn a_user_holds_at_most_twenty_subscriptions() {
    let app = push_app(&[]).await;
    let service = PushService::start().await;
    for i in 0..20 {
        let sub = service.subscription(&format!("cap{i}"));
        assert_eq!(
            subscribe(&app, "pc1", &sub).await.0,
            201,
            "subscription {i}"
        );
    }
    let response = subscribe(&app, "pc1", &service.subscription("cap20")).await;
    let details = assert_error(&response, 422, "validation_failed");
    assert!(details["endpoint"].is_string(), "{details}");
    // A known endpoint is still answered, and another user is not affected.
    let again = subscribe(&app, "pc1", &service.subscription("cap0")).await;
    assert_eq!(again.0, 200, "{}", again.1);
    assert_eq!(
        subscribe(&app, "pc2", &service.subscription("other"))
            .await
            .0,
        201
    );
}

#[actix_web::test]
async fn without_a_vapid_key_a_production_server_schedules_nothing() {
    // Not a development server (with secrets long enough for one): no
    // key is generated, so Web Push is off.
    const KEY: &str = "a-service-key-long-enough-for-production";
    let app = spawn_app_with(&[], |s| {
        s.dev_secrets_allowed = false;
        s.jwt_secret = Some("a-jwt-secret-long-enough-for-production-use".into());
        s.service_keys = vec![KEY.into()];
    })
    .await;
    let response = app
        .send(app.http.get(app.url("/api/v1/push/vapid-public-key")), None)
        .await;
    assert_error(&response, 404, "not_found");
    let (status, health) = app.send(app.http.get(app.url("/health")), None).await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["checks"]["push"], "disabled", "{health}");
    let response = app
        .post_as(
            "/api/v1/alerts",
            Some(&format!("Bearer {KEY}")),
            alert_body("pd1", "B-off"),
        )
        .await;
    assert_eq!(response.0, 201, "{}", response.1);
    let pending = alerthub::storage::pending_pushes(&mut app.storage()).unwrap();
    assert_eq!(pending, 0, "nothing waits for a push");
    // With a key (a development server) the same alert would wait.
    let dev = push_app(&[]).await;
    dev.create_alert("pd1", "B-on").await;
    assert_eq!(
        alerthub::storage::pending_pushes(&mut dev.storage()).unwrap(),
        1
    );
}

#[actix_web::test]
async fn plain_http_endpoints_need_the_insecure_switch() {
    let app = spawn_app().await;
    let service = service_for(&app).await;
    let response = subscribe(&app, "pi1", &service.subscription("insecure")).await;
    let details = assert_error(&response, 422, "validation_failed");
    assert!(details["endpoint"].is_string(), "{details}");
}

#[actix_web::test]
async fn an_unread_alert_is_pushed_once_to_each_subscription() {
    let app = push_app(&["--push-delay", "1"]).await;
    let service = service_for(&app).await;
    for name in ["once-a", "once-b"] {
        assert_eq!(
            subscribe(&app, "po1", &service.subscription(name)).await.0,
            201
        );
    }
    let began = Instant::now();
    let id = trigger(&app, "po1", "B-once", "critical").await;
    for name in ["once-a", "once-b"] {
        let got = service.wait_delivered(name, 1, PATIENCE).await;
        assert_eq!(got.len(), 1, "{name}: {got:?}");
        let message = &got[0];
        assert_eq!(message.payload["type"], "breach_alert");
        assert_eq!(message.payload["alert"]["alert_id"], id);
        assert_eq!(message.payload["alert"]["breach_id"], "B-once");
        assert_eq!(message.payload["alert"]["severity"], "CRITICAL");
        assert_eq!(message.payload["alert"]["read"], false);
        assert_eq!(
            (&*message.ttl, &*message.urgency, &*message.topic),
            ("86400", "high", &*id.to_string())
        );
    }
    assert!(
        began.elapsed() >= Duration::from_secs(1),
        "not before the delay"
    );
    // Well after: still exactly one each.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for name in ["once-a", "once-b"] {
        assert_eq!(service.attempts(name), 1, "{name}");
    }
    service.assert_no_violations();
    assert_eq!(metric(&app.metrics().await, "alerthub_push_sent_total"), 2);
}

#[actix_web::test]
async fn read_before_the_delay_or_below_the_minimum_severity_is_never_pushed() {
    let app = push_app(&["--push-delay", "2", "--push-min-severity", "medium"]).await;
    let service = service_for(&app).await;
    assert_eq!(
        subscribe(&app, "pn1", &service.subscription("never"))
            .await
            .0,
        201
    );
    let low = trigger(&app, "pn1", "B-low", "LOW").await;
    let read = trigger(&app, "pn1", "B-read", "HIGH").await;
    let pushed = trigger(&app, "pn1", "B-pushed", "MEDIUM").await;
    let (status, body) = app
        .post_as(
            &format!("/api/v1/alerts/{read}/read"),
            Some(&bearer("pn1")),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // The control alert arrives, so the push path works...
    let got = service.wait_delivered("never", 1, PATIENCE).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].payload["alert"]["alert_id"], pushed);
    assert_eq!(got[0].urgency, "normal");
    // ...and the other two never do.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ids: Vec<Value> = service
        .received("never")
        .iter()
        .map(|r| r.payload["alert"]["alert_id"].clone())
        .collect();
    assert_eq!(ids, [json!(pushed)], "alert {low} or {read} was pushed");
    service.assert_no_violations();
}

#[actix_web::test]
async fn the_minimal_payload_carries_no_breach_details() {
    let app = push_app(&["--push-delay", "0", "--push-payload", "minimal"]).await;
    let service = service_for(&app).await;
    subscribe(&app, "pm1", &service.subscription("minimal")).await;
    let id = trigger(&app, "pm1", "B-minimal", "HIGH").await;
    let got = service.wait_delivered("minimal", 1, PATIENCE).await;
    assert_eq!(
        got[0].payload,
        json!({"type": "breach_alert", "alert_id": id, "severity": "HIGH"})
    );
}

#[actix_web::test]
async fn gone_deletes_the_subscription_and_a_503_is_retried_then_delivered_once() {
    let app = push_app(&["--push-delay", "0"]).await;
    let service = service_for(&app).await;
    let gone = service.subscription("gone");
    subscribe(&app, "pg1", &gone).await;
    subscribe(&app, "pg1", &service.subscription("busy")).await;
    service.script("gone", &[Reply::Status(410)]);
    service.script("busy", &[Reply::RetryAfter(503, 1)]);
    let began = Instant::now();
    let id = trigger(&app, "pg1", "B-retry", "HIGH").await;

    let got = service.wait_delivered("busy", 1, PATIENCE).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].payload["alert"]["alert_id"], id);
    assert!(
        began.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    assert_eq!(service.attempts("busy"), 2);
    // The 410: tried once, and the subscription is gone.
    assert_eq!(service.attempts("gone"), 1);
    let left: Vec<Value> = subscriptions(&app, "pg1").await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_ne!(left[0]["endpoint"], gone["endpoint"]);
    // Nothing more comes.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!((service.attempts("busy"), service.attempts("gone")), (2, 1));
    service.assert_no_violations();
    let metrics = app.metrics().await;
    assert_eq!(metric(&metrics, "alerthub_push_sent_total"), 1);
    assert_eq!(metric(&metrics, "alerthub_push_failed_total"), 1);
    assert_eq!(
        metric(&metrics, "alerthub_push_expired_subscriptions_total"),
        1
    );
}

/// The 99th percentile of `n` sequential triggers' round trips.
async fn trigger_p99(app: &TestApp, user: &str, tag: &str, n: usize) -> Duration {
    let mut took = Vec::with_capacity(n);
    for i in 0..n {
        let began = Instant::now();
        let (status, body) = app.trigger(alert_body(user, &format!("{tag}-{i}"))).await;
        assert_eq!(status, 201, "{body}");
        took.push(began.elapsed());
    }
    took.sort();
    took[(n * 99 / 100).min(n - 1)]
}

#[actix_web::test]
async fn a_push_service_that_never_answers_delays_nothing_else() {
    let app = push_app(&["--push-delay", "0"]).await;
    let service = service_for(&app).await;
    let mut tab = app.connect("calm").await;
    let before = trigger_p99(&app, "calm", "before", 100).await;

    // Every alert of this user goes to a service that never answers.
    subscribe(&app, "hung", &service.subscription("hung")).await;
    service.script("hung", &[Reply::Hang; 64]);
    for i in 0..20 {
        trigger(&app, "hung", &format!("H{i}"), "HIGH").await;
    }
    let deadline = Instant::now() + PATIENCE;
    while service.attempts("hung") == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(service.attempts("hung") > 0, "the hung service was reached");
    let during = trigger_p99(&app, "calm", "during", 100).await;
    // WebSocket delivery goes on too.
    let id = app.create_alert("calm", "live").await;
    loop {
        let frame = tab.next_json().await;
        if frame["type"] == "breach_alert" && frame["message"]["alert_id"] == id {
            break;
        }
    }
    eprintln!("trigger p99: {before:?} without, {during:?} with a hung push service");
    assert!(
        during <= before * 3 + Duration::from_millis(100),
        "trigger p99 went from {before:?} to {during:?}"
    );
    assert!(service.delivered("hung").is_empty());
}
