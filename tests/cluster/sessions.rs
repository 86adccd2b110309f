//! Contract §5 across nodes: a revocation or a sign-out on one node closes
//! the sessions on the others within 1 s, and voids older JWTs on nodes
//! that were running (their caches are told) and on nodes started later
//! (they read the database).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::nodes::{Node, Shared, shared};
use alerthub_test_support::{Closed, JWT_SECRET, WsClient, close_of, now_secs, sign_jwt};

fn jwt_issued(user: &str, iat: u64) -> String {
    sign_jwt(
        json!({"user_id": user, "exp": now_secs() + 600, "iat": iat, "token_type": "access"}),
        JWT_SECRET,
    )
}

async fn open(node: &Node, user: &str, token: &str) -> (WsClient, serde_json::Value) {
    let url = format!(
        "ws://127.0.0.1:{}/ws/breach-alerts/{user}/?token={token}",
        node.port
    );
    let mut ws = WsClient::open(&url).await.expect("handshake");
    let hello = ws.expect("connection_established").await;
    (ws, hello)
}

async fn closed_soon(ws: &mut WsClient, since: Instant, reason: &str) {
    let closed = ws.expect_close().await;
    assert_eq!(
        closed,
        Closed {
            code: 4003,
            reason: reason.into()
        }
    );
    // The contract's bound is 1 s; the margin is for a loaded machine.
    assert!(
        since.elapsed() < Duration::from_millis(1500),
        "{:?}",
        since.elapsed()
    );
}

#[actix_web::test]
async fn a_revocation_on_one_node_closes_the_sessions_on_another() {
    let Some(shared) = shared("a_revocation_on_one_node_closes_the_sessions_on_another") else {
        return;
    };
    let a = Node::start(&shared, "node-a", &[]).await;
    let b = Node::start(&shared, "node-b", &[]).await;
    revocation_closes_the_sessions_on_another(&a, &b, "c1").await;
}

/// `user`'s opaque token, minted on `a`, is revoked on `a`: its session on
/// `b` closes with 4003 within the bound, the user's other session lives,
/// and `b` refuses the token at once.
pub async fn revocation_closes_the_sessions_on_another(a: &Node, b: &Node, user: &str) {
    let (status, created) = a.post("/api/v1/tokens", json!({"user_id": user})).await;
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    let (mut on_b, _) = open(b, user, &token).await;
    let (mut other_on_b, _) = open(b, user, &jwt_issued(user, now_secs())).await;

    let started = Instant::now();
    let (status, body) = a
        .post("/api/v1/tokens/revoke", json!({"token": token}))
        .await;
    assert_eq!((status, body), (200, json!({"revoked": true})));
    closed_soon(&mut on_b, started, "token revoked").await;
    other_on_b.assert_alive().await;
    // B refuses the token at once, not after its cache's lifetime.
    let url = format!(
        "ws://127.0.0.1:{}/ws/breach-alerts/{user}/?token={token}",
        b.port
    );
    assert_eq!(close_of(&url).await.code, 4003);
}

#[actix_web::test]
async fn a_sign_out_on_one_node_holds_on_every_node_and_on_later_ones() {
    let Some(shared) = shared("a_sign_out_on_one_node_holds_on_every_node_and_on_later_ones")
    else {
        return;
    };
    let a = Node::start(&shared, "node-a", &[]).await;
    let b = Node::start(&shared, "node-b", &[]).await;
    sign_out_holds_on_every_node_and_on_later_ones(
        &shared,
        &shared.redis_url,
        [&a, &b],
        "c2",
        "c3",
    )
    .await;
}

/// `user` signs out through `a` (keeping one session on `b`): the others
/// close on both nodes, `neighbour` is untouched, and the JWT issued
/// before is refused by `b` and by a node started afterwards on
/// `redis_url`.
pub async fn sign_out_holds_on_every_node_and_on_later_ones(
    shared: &Shared,
    redis_url: &str,
    [a, b]: [&Node; 2],
    user: &str,
    neighbour: &str,
) {
    let old = jwt_issued(user, now_secs() - 30);
    let (mut on_b, _) = open(b, user, &old).await;
    let (mut kept_on_b, hello) = open(b, user, &old).await;
    let (mut on_a, _) = open(a, user, &old).await;
    let (mut neighbour, _) = open(b, neighbour, &jwt_issued(neighbour, now_secs() - 30)).await;

    let started = Instant::now();
    let (status, body) = a
        .post(
            &format!("/api/v1/users/{user}/sign-out"),
            json!({"except_session": hello["session_id"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    closed_soon(&mut on_b, started, "signed out").await;
    closed_soon(&mut on_a, started, "signed out").await;
    kept_on_b.assert_alive().await;
    neighbour.assert_alive().await;

    // B had admitted the old JWT before: it refuses it now.
    let url = |node: &Node| {
        format!(
            "ws://127.0.0.1:{}/ws/breach-alerts/{user}/?token={old}",
            node.port
        )
    };
    assert_eq!(close_of(&url(b)).await.code, 4003);
    // A node started after the sign-out refuses it too; a new JWT works.
    let c = Node::start_with_redis(shared, "node-c", redis_url, &[]).await;
    assert_eq!(close_of(&url(&c)).await.code, 4003);
    open(&c, user, &jwt_issued(user, now_secs())).await;
}
