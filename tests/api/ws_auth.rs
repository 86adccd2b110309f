//! Contract §1, authentication and the handshake: credential sources and
//! forms, every failure and its close code, path and origin checks.

use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use alerthub_test_support::*;

#[actix_web::test]
async fn a_valid_jwt_in_the_query_is_greeted_first() {
    let app = spawn_app().await;
    let mut ws = WsClient::open(&app.ws_url(&format!("/ws/breach-alerts/1/?token={}", jwt("1"))))
        .await
        .unwrap();
    let hello = ws.next_json().await;
    assert_eq!(hello["type"], "connection_established");
    assert_eq!(hello["user_id"], "1");
    assert_eq!(
        hello["message"],
        "Connected to ML-powered breach alert system"
    );
    assert!(hello["timestamp"].as_str().unwrap().ends_with('Z'));
    ws.assert_alive().await;
}

#[actix_web::test]
async fn credential_forms_and_sources_are_all_accepted() {
    let app = spawn_app().await;
    let token = jwt("7");
    // Query with and without the Bearer prefix, trailing slash optional.
    for path in [
        format!("/ws/breach-alerts/7/?token={token}"),
        format!("/ws/breach-alerts/7?token=Bearer%20{token}"),
    ] {
        let mut ws = WsClient::open(&app.ws_url(&path)).await.unwrap();
        ws.expect("connection_established").await;
    }
    // The Authorization header when the query has no token.
    let mut req = app
        .ws_url("/ws/breach-alerts/7/")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse().unwrap());
    let mut ws = WsClient::open_request(req).await.unwrap();
    ws.expect("connection_established").await;
}

#[actix_web::test]
async fn only_the_first_credential_present_is_tried() {
    let app = spawn_app().await;
    let mut req = app
        .ws_url("/ws/breach-alerts/7/?token=garbage")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "Authorization",
        format!("Bearer {}", jwt("7")).parse().unwrap(),
    );
    let mut ws = WsClient::open_request(req).await.unwrap();
    assert_eq!(
        ws.expect_close().await,
        Closed {
            code: 4003,
            reason: "authentication failed".into()
        }
    );
}

#[actix_web::test]
async fn every_bad_credential_is_closed_with_4003_and_nothing_else() {
    let app = spawn_app().await;
    let exp = now_secs() + 600;
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    };
    let cases = [
        ("missing", String::new()),
        ("malformed", "not-a-token".to_string()),
        ("jwt-shaped garbage", "aaa.bbb.ccc".to_string()),
        (
            "expired",
            sign_jwt(json!({"user_id":"1","exp": now_secs() - 5}), JWT_SECRET),
        ),
        ("no exp", sign_jwt(json!({"user_id":"1"}), JWT_SECRET)),
        (
            "wrong key",
            sign_jwt(json!({"user_id":"1","exp":exp}), "another-secret"),
        ),
        (
            "refresh token",
            sign_jwt(
                json!({"user_id":"1","exp":exp,"token_type":"refresh"}),
                JWT_SECRET,
            ),
        ),
        (
            "no user claim",
            sign_jwt(json!({"sub":"1","exp":exp}), JWT_SECRET),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(r#"{"alg":"none","typ":"JWT"}"#),
                b64(&format!(r#"{{"user_id":"1","exp":{exp}}}"#))
            ),
        ),
        ("unknown opaque token", "Token ahk_0000".to_string()),
    ];
    for (what, token) in cases {
        let url = app.ws_url(&format!(
            "/ws/breach-alerts/1/?token={}",
            token.replace(' ', "%20")
        ));
        let closed = close_of(&url).await;
        assert_eq!(
            closed,
            Closed {
                code: 4003,
                reason: "authentication failed".into()
            },
            "{what}"
        );
    }
    let metrics = app.metrics().await;
    assert!(
        metrics
            .contains(r#"alerthub_rejected_handshakes_total{reason="authentication_failed"} 10"#),
        "{metrics}"
    );
}

#[actix_web::test]
async fn a_token_for_another_user_is_a_user_mismatch() {
    let app = spawn_app().await;
    let closed = close_of(&app.ws_url(&format!("/ws/breach-alerts/2/?token={}", jwt("1")))).await;
    assert_eq!(
        closed,
        Closed {
            code: 4003,
            reason: "user mismatch".into()
        }
    );
}

#[actix_web::test]
async fn numeric_user_claims_match_decimal_paths() {
    let app = spawn_app().await;
    let token = sign_jwt(
        json!({"user_id": 42, "exp": now_secs() + 60, "token_type": "access"}),
        JWT_SECRET,
    );
    let mut ws = WsClient::open(&app.ws_url(&format!("/ws/breach-alerts/42/?token={token}")))
        .await
        .unwrap();
    assert_eq!(ws.expect("connection_established").await["user_id"], "42");
}

#[actix_web::test]
async fn a_configured_user_claim_names_the_user() {
    let app = spawn_app_with(&["--jwt-user-claim", "sub"], |_| {}).await;
    let token = sign_jwt(json!({"sub": "alice", "exp": now_secs() + 60}), JWT_SECRET);
    let mut ws = WsClient::open(&app.ws_url(&format!("/ws/breach-alerts/alice/?token={token}")))
        .await
        .unwrap();
    ws.expect("connection_established").await;
}

#[actix_web::test]
async fn a_user_id_off_the_pattern_is_404_before_any_upgrade() {
    let app = spawn_app().await;
    let long = "a".repeat(65);
    for user in ["a-b", "%C3%A9", long.as_str()] {
        let req = app
            .ws_url(&format!("/ws/breach-alerts/{user}/?token={}", jwt("1")))
            .into_client_request()
            .unwrap();
        assert_eq!(refused_status(req).await, 404, "{user}");
    }
}

#[actix_web::test]
async fn opaque_tokens_work_until_revoked() {
    let app = spawn_app().await;
    let token = alerthub::storage::create_token(&mut app.storage(), "9").unwrap();
    // Bare in the query, with the Token prefix, and in the header.
    for path in [format!("?token={token}"), format!("?token=Token%20{token}")] {
        let mut ws = WsClient::open(&app.ws_url(&format!("/ws/breach-alerts/9/{path}")))
            .await
            .unwrap();
        ws.expect("connection_established").await;
    }
    let mut req = app
        .ws_url("/ws/breach-alerts/9/")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Authorization", format!("Token {token}").parse().unwrap());
    WsClient::open_request(req)
        .await
        .unwrap()
        .expect("connection_established")
        .await;

    assert!(alerthub::storage::revoke_token(&mut app.storage(), &token).unwrap());
    // Revoked behind the server's back: refused once its token cache expires.
    outlast_token_cache().await;
    let closed = close_of(&app.ws_url(&format!("/ws/breach-alerts/9/?token={token}"))).await;
    assert_eq!(closed.code, 4003);
}

#[actix_web::test]
async fn rs256_and_es256_work_with_a_public_key_and_hs256_still_works() {
    for (public, private, alg) in [
        (
            "tests/fixtures/rsa_public.pem",
            "tests/fixtures/rsa_private.pem",
            jsonwebtoken::Algorithm::RS256,
        ),
        (
            "tests/fixtures/ec_public.pem",
            "tests/fixtures/ec_private.pem",
            jsonwebtoken::Algorithm::ES256,
        ),
    ] {
        let app = spawn_app_with(&["--jwt-public-key", public], |_| {}).await;
        let pem = std::fs::read(private).unwrap();
        let key = match alg {
            jsonwebtoken::Algorithm::RS256 => {
                jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap()
            }
            _ => jsonwebtoken::EncodingKey::from_ec_pem(&pem).unwrap(),
        };
        let claims = json!({"user_id": "5", "exp": now_secs() + 60});
        let token = jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), &claims, &key).unwrap();
        let mut ws = WsClient::open(&app.ws_url(&format!("/ws/breach-alerts/5/?token={token}")))
            .await
            .unwrap();
        ws.expect("connection_established").await;
        let mut ws =
            WsClient::open(&app.ws_url(&format!("/ws/breach-alerts/5/?token={}", jwt("5"))))
                .await
                .unwrap();
        ws.expect("connection_established").await;
    }
}

#[actix_web::test]
async fn a_public_key_algorithm_is_refused_when_no_key_is_configured() {
    let app = spawn_app().await;
    let pem = std::fs::read("tests/fixtures/rsa_private.pem").unwrap();
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap();
    let claims = json!({"user_id": "5", "exp": now_secs() + 60});
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .unwrap();
    let closed = close_of(&app.ws_url(&format!("/ws/breach-alerts/5/?token={token}"))).await;
    assert_eq!(closed.code, 4003);
}

#[actix_web::test]
async fn origins_outside_the_list_get_403_and_no_origin_is_fine() {
    let app = spawn_app_with(&["--allowed-origins", "https://app.example"], |_| {}).await;
    let url = app.ws_url(&format!("/ws/breach-alerts/1/?token={}", jwt("1")));
    let mut bad = url.clone().into_client_request().unwrap();
    bad.headers_mut()
        .insert("Origin", "https://evil.example".parse().unwrap());
    assert_eq!(refused_status(bad).await, 403);
    let mut good = url.clone().into_client_request().unwrap();
    good.headers_mut()
        .insert("Origin", "https://app.example".parse().unwrap());
    WsClient::open_request(good)
        .await
        .unwrap()
        .expect("connection_established")
        .await;
    WsClient::open(&url)
        .await
        .unwrap()
        .expect("connection_established")
        .await;
}

#[actix_web::test]
async fn a_bad_since_is_refused_before_the_upgrade() {
    let app = spawn_app().await;
    let req = app
        .ws_url(&format!(
            "/ws/breach-alerts/1/?token={}&since=abc",
            jwt("1")
        ))
        .into_client_request()
        .unwrap();
    assert_eq!(refused_status(req).await, 422);
}
