//! Contract §5, tokens of the system alerthub replaces: with
//! `ALERTHUB_TOKEN_INTROSPECTION_URL`, an opaque token alerthub did not
//! issue is checked by an RFC 7662 request to a real HTTP endpoint — here a
//! small actix-web server inside the test, on port 0 — which admits,
//! refuses, goes down (503 before the upgrade) and revokes a token while
//! its session is open.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use alerthub_test_support::*;

pub const ENDPOINT_AUTH: &str = "Bearer introspection-test-secret";

#[derive(Default)]
pub struct Endpoint {
    answers: Mutex<HashMap<String, Value>>,
    slow: AtomicBool,
    calls: AtomicUsize,
}

impl Endpoint {
    pub fn set(&self, token: &str, answer: Value) {
        self.answers.lock().unwrap().insert(token.into(), answer);
    }
}

async fn introspect(
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
    endpoint: web::Data<Endpoint>,
) -> HttpResponse {
    endpoint.calls.fetch_add(1, Ordering::SeqCst);
    if endpoint.slow.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let auth = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok());
    if auth != Some(ENDPOINT_AUTH) {
        return HttpResponse::Unauthorized().finish();
    }
    let token = form.get("token").cloned().unwrap_or_default();
    let answer = endpoint.answers.lock().unwrap().get(&token).cloned();
    HttpResponse::Ok().json(answer.unwrap_or(json!({"active": false})))
}

/// The endpoint, started on port 0; returns its state and URL.
pub fn start_endpoint() -> (web::Data<Endpoint>, String) {
    let endpoint = web::Data::new(Endpoint::default());
    let data = endpoint.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/o/introspect/", web::post().to(introspect))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    (endpoint, format!("http://127.0.0.1:{port}/o/introspect/"))
}

async fn app_with(url: &str) -> TestApp {
    spawn_app_with(
        &[
            "--token-introspection-url",
            url,
            "--token-introspection-auth",
            ENDPOINT_AUTH,
            "--token-introspection-recheck-secs",
            "1",
        ],
        |_| {},
    )
    .await
}

/// A Django REST Framework token: 40 hex digits.
pub fn drf_token() -> String {
    let mut b = [0u8; 20];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
    hex::encode(b)
}

#[actix_web::test]
async fn the_old_systems_tokens_are_admitted_refused_and_revoked_by_introspection() {
    let (endpoint, url) = start_endpoint();
    let app = app_with(&url).await;
    let (good, unknown, other_user) = (drf_token(), drf_token(), drf_token());
    endpoint.set(&good, json!({"active": true, "user_id": 61}));
    endpoint.set(&other_user, json!({"active": true, "user_id": "62"}));

    // Admitted, as `Token <key>` too; no expiry unless the endpoint says.
    let ws_url = app.ws_url(&format!("/ws/breach-alerts/61/?token=Token%20{good}"));
    let mut ws = WsClient::open(&ws_url).await.unwrap();
    let hello = ws.expect("connection_established").await;
    assert_eq!(hello["expires_at"], Value::Null, "{hello}");
    let (status, count) = app
        .get_as("/api/v1/alerts/unread-count", &format!("Token {good}"))
        .await;
    assert_eq!((status, count["count"].as_i64()), (200, Some(0)));
    // Refused: inactive, or another user's.
    let url_of = |token: &str| app.ws_url(&format!("/ws/breach-alerts/61/?token={token}"));
    assert_eq!(
        close_of(&url_of(&unknown)).await.reason,
        "authentication failed"
    );
    assert_eq!(close_of(&url_of(&other_user)).await.reason, "user mismatch");
    // alerthub's own tokens never reach the endpoint.
    let calls = endpoint.calls.load(Ordering::SeqCst);
    let own = alerthub::storage::create_token(&mut app.storage(), "61").unwrap();
    let mut own_ws = WsClient::open(&url_of(&own)).await.unwrap();
    own_ws.expect("connection_established").await;
    assert_eq!(endpoint.calls.load(Ordering::SeqCst), calls);

    // Revoked in the old system while the session is open: closed within
    // the re-check period (1 s here; the margin is for a loaded machine).
    let revoked_at = Instant::now();
    endpoint.set(&good, json!({"active": false}));
    let closed = ws.expect_close().await;
    assert_eq!(
        closed,
        Closed {
            code: 4003,
            reason: "token revoked".into()
        }
    );
    assert!(
        revoked_at.elapsed() < Duration::from_secs(3),
        "{:?}",
        revoked_at.elapsed()
    );
    own_ws.assert_alive().await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"alerthub_sessions_closed_total{reason="revoked"} 1"#),
        "{metrics}"
    );
}

#[actix_web::test]
async fn an_endpoint_that_is_down_or_slow_is_a_503_before_the_upgrade() {
    let (endpoint, url) = start_endpoint();
    let app = app_with(&url).await;
    let token = drf_token();
    endpoint.set(
        &token,
        json!({"active": true, "user_id": "63", "exp": now_secs() + 600}),
    );
    endpoint.slow.store(true, Ordering::SeqCst);
    let request = app
        .ws_url(&format!("/ws/breach-alerts/63/?token={token}"))
        .into_client_request()
        .unwrap();
    let started = Instant::now();
    assert_eq!(refused_status(request).await, 503);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // Back up: admitted, with the endpoint's `exp` as the expiry.
    endpoint.slow.store(false, Ordering::SeqCst);
    let mut ws = WsClient::open(&app.ws_url(&format!("/ws/breach-alerts/63/?token={token}")))
        .await
        .unwrap();
    let hello = ws.expect("connection_established").await;
    assert!(hello["expires_at"].is_string(), "{hello}");

    // Nothing listening at all is the same 503.
    let port = alerthub_test_support::process::free_port();
    let app = app_with(&format!("http://127.0.0.1:{port}/introspect")).await;
    let request = app
        .ws_url(&format!("/ws/breach-alerts/63/?token={token}"))
        .into_client_request()
        .unwrap();
    assert_eq!(refused_status(request).await, 503);
}

/// Sessions start one at a time here (`Limits::starting_sessions` = 1) and
/// each handshake with a token of the slow endpoint holds that place for
/// the introspection's 2 s timeout. A handshake queued behind three of
/// them would get its turn only after 6 s: at 5 s of waiting it is answered
/// the contract's 503 instead, before any upgrade. The queue then drains
/// and the places come back.
#[actix_web::test]
async fn a_handshake_that_waits_five_seconds_for_its_turn_is_answered_503() {
    let (endpoint, url) = start_endpoint();
    let app = spawn_app_with(
        &[
            "--token-introspection-url",
            &url,
            "--token-introspection-auth",
            ENDPOINT_AUTH,
        ],
        |s| s.limits.starting_sessions = 1,
    )
    .await;
    endpoint.slow.store(true, Ordering::SeqCst);
    let slow: Vec<_> = (0..3)
        .map(|_| {
            let request = app
                .ws_url(&format!("/ws/breach-alerts/64/?token={}", drf_token()))
                .into_client_request()
                .unwrap();
            actix_web::rt::spawn(refused_status(request))
        })
        .collect();
    // The three are queued (the first holds the place) before this one.
    let deadline = Instant::now() + PATIENCE;
    while endpoint.calls.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the endpoint was never asked");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let request = app
        .ws_url(&format!("/ws/breach-alerts/65/?token={}", jwt("65")))
        .into_client_request()
        .unwrap();
    let asked = Instant::now();
    let refused = refused_response(request).await;
    let waited = asked.elapsed();
    assert_error(&refused, 503, "unavailable");
    assert!(
        waited >= Duration::from_millis(4_900),
        "answered after {waited:?}: not for want of a turn"
    );
    // The slow ones end (503: the endpoint timed out), and their places
    // come back: a handshake is greeted at once.
    for handshake in slow {
        assert_eq!(handshake.await.unwrap(), 503);
    }
    endpoint.slow.store(false, Ordering::SeqCst);
    tokio::time::timeout(Duration::from_secs(3), app.connect("65"))
        .await
        .expect("greeted at once once the queue drained");
}
