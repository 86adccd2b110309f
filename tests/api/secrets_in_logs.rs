//! Contract §5, last line: nothing that authenticates — the query's
//! `token`, an `Authorization` header, a service key, the JWT secret, the
//! introspection endpoint's credential — appears in the log, at any level.
//! One whole scenario runs against the real binary at `RUST_LOG=trace`
//! with the access log on, and every secret it used is looked for in what
//! the process wrote to stdout and stderr.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::introspection::{ENDPOINT_AUTH, drf_token, start_endpoint};
use alerthub_test_support::process::{alerthub, free_port};
use alerthub_test_support::*;

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
    hex::encode(b)
}

#[actix_web::test]
async fn a_whole_scenario_at_trace_level_logs_no_credential() {
    let (endpoint, introspection_url) = start_endpoint();
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("alerthub.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let port = free_port();
    let jwt_secret = format!("jwt-secret-{}", random_hex(16));
    let service_key = format!("svc-key-{}", random_hex(16));
    let database = format!("sqlite://{}", dir.path().join("a.db").display());
    let mut child = alerthub(dir.path())
        .arg("serve")
        .env("RUST_LOG", "trace")
        .env("ALERTHUB_ACCESS_LOG", "1")
        .env("ALERTHUB_BIND", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", &database)
        .env("ALERTHUB_JWT_SECRET", &jwt_secret)
        .env("ALERTHUB_SERVICE_KEYS", &service_key)
        .env("ALERTHUB_TOKEN_INTROSPECTION_URL", &introspection_url)
        .env("ALERTHUB_TOKEN_INTROSPECTION_AUTH", ENDPOINT_AUTH)
        .stdout(Stdio::from(log_file.try_clone().unwrap()))
        .stderr(Stdio::from(log_file))
        .spawn()
        .expect("serve starts");
    let base = format!("http://127.0.0.1:{port}");
    let http = awc::Client::default();
    let mut up = false;
    for _ in 0..100 {
        if http.get(format!("{base}/health")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the server did not start");

    let user_jwt = |iat: u64| {
        sign_jwt(
            json!({"user_id": "91", "exp": now_secs() + 600, "iat": iat, "token_type": "access"}),
            &jwt_secret,
        )
    };
    let (first, second) = (user_jwt(now_secs() - 5), user_jwt(now_secs()));
    let service = format!("Bearer {service_key}");
    let ws = |q: &str| format!("ws://127.0.0.1:{port}/ws/breach-alerts/91/{q}");
    let post = |path: &str, auth: &str, body: serde_json::Value| {
        http.post(format!("{base}{path}"))
            .insert_header(("Authorization", auth.to_owned()))
            .send_json(&body)
    };

    // A session by query token, refreshed in band; a bad refresh.
    let mut by_query = WsClient::open(&ws(&format!("?token={first}")))
        .await
        .unwrap();
    by_query.expect("connection_established").await;
    by_query
        .send_json(json!({"type": "refresh_token", "token": second}))
        .await;
    by_query.expect("token_refreshed").await;
    let forged = sign_jwt(
        json!({"user_id": "91", "exp": now_secs() + 60}),
        "not-the-secret",
    );
    by_query
        .send_json(json!({"type": "refresh_token", "token": forged}))
        .await;
    by_query.expect("error").await;
    // REST with a good and a bad credential.
    let mut r = http
        .get(format!("{base}/api/v1/alerts/unread-count"))
        .insert_header(("Authorization", format!("Bearer {second}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let _ = r.body().await;
    let mut r = http
        .get(format!("{base}/api/v1/alerts?limit=5&token={forged}"))
        .insert_header(("Authorization", format!("Bearer {forged}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let _ = r.body().await;
    // An opaque token over REST, used in a header, revoked.
    let mut r = post("/api/v1/tokens", &service, json!({"user_id": "91"}))
        .await
        .unwrap();
    let created: serde_json::Value = r.json().await.unwrap();
    let opaque = created["token"].as_str().unwrap().to_owned();
    let mut request = ws("").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Authorization", format!("Token {opaque}").parse().unwrap());
    let mut by_header = WsClient::open_request(request).await.unwrap();
    by_header.expect("connection_established").await;
    let r = post("/api/v1/tokens/revoke", &service, json!({"token": opaque}))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(by_header.expect_close().await.code, 4003);
    // A token of the old system, through introspection.
    let drf = drf_token();
    endpoint.set(&drf, json!({"active": true, "user_id": "91"}));
    let mut legacy = WsClient::open(&ws(&format!("?token=Token%20{drf}")))
        .await
        .unwrap();
    legacy.expect("connection_established").await;
    // The trigger, with the key and with a wrong one; then sign-out.
    let alert = alert_body("91", "B-1");
    assert_eq!(
        post("/api/v1/alerts", &service, alert.clone())
            .await
            .unwrap()
            .status(),
        201
    );
    let wrong = format!("Bearer {}", random_hex(8));
    assert_eq!(
        post("/api/v1/alerts", &wrong, alert)
            .await
            .unwrap()
            .status(),
        401
    );
    by_query.expect("breach_alert").await;
    let r = post("/api/v1/users/91/sign-out", &service, json!({}))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(by_query.expect_close().await.reason, "signed out");
    // What operators read: neither may hold a secret either.
    let mut pages = String::new();
    for path in ["/health", "/metrics"] {
        let mut r = http.get(format!("{base}{path}")).send().await.unwrap();
        pages.push_str(&String::from_utf8_lossy(&r.body().await.unwrap()));
    }

    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().await.unwrap();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains(" TRACE "), "the log is not at trace level");
    assert!(
        log.contains("GET /ws/breach-alerts/91/ 101") && log.contains("POST /api/v1/tokens 201"),
        "the access log is missing"
    );
    let token_key = alerthub::storage::setting(&mut app_storage(&database), "opaque_token_key")
        .unwrap()
        .unwrap();
    let secrets = [
        ("the JWT secret", jwt_secret.as_str()),
        ("the service key", service_key.as_str()),
        ("the wrong service key", &wrong[7..]),
        ("a JWT", first.as_str()),
        ("the refreshed JWT", second.as_str()),
        ("the forged JWT", forged.as_str()),
        ("the opaque token", opaque.as_str()),
        ("the opaque token's random part", &opaque[4..68]),
        ("the introspected token", drf.as_str()),
        ("the introspection credential", &ENDPOINT_AUTH[7..]),
        ("the opaque tokens' key", token_key.as_str()),
    ];
    for (what, secret) in secrets {
        assert!(!log.contains(secret), "{what} is in the log");
        assert!(!pages.contains(secret), "{what} is in /health or /metrics");
        // A JWT's signature alone is as good as a leak of the whole.
        if let Some(signature) = secret.rsplit('.').next().filter(|s| s.len() > 20) {
            assert!(
                !log.contains(signature),
                "the signature of {what} is in the log"
            );
        }
    }
}

fn app_storage(database: &str) -> alerthub::storage::DbConn {
    let url = alerthub::storage::DatabaseUrl::parse(database).unwrap();
    let options = alerthub::storage::PoolOptions {
        max_size: 1,
        connect_timeout: Duration::from_secs(5),
    };
    alerthub::storage::connect(&url, &options)
        .unwrap()
        .get()
        .unwrap()
}
