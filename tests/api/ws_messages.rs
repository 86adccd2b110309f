//! Contract §1, the session itself: every client message and its answer,
//! read-state sync across tabs, error frames, live alerts and isolation
//! between users.

use std::time::Duration;

use serde_json::{Value, json};

use alerthub_test_support::*;

/// Long enough for a stray frame to show up on a loaded machine, short
/// enough to keep the suite quick. Used only to assert absence.
const QUIET: Duration = Duration::from_millis(400);

fn assert_utc_timestamp(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("timestamp is not a string: {value}"));
    assert!(text.ends_with('Z'), "not UTC with Z: {text}");
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("not RFC 3339 ({e}): {text}"));
}

/// The user's unread count as the REST API reports it.
async fn rest_unread_count(app: &TestApp, user: &str) -> i64 {
    let (status, body) = app
        .get_as(
            "/api/v1/alerts/unread-count",
            &format!("Bearer {}", jwt(user)),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["count"]
        .as_i64()
        .unwrap_or_else(|| panic!("no count: {body}"))
}

/// Asserts an `alert_update` frame with exactly these contents.
fn assert_alert_update(frame: &Value, alert_id: Value, update_type: &str) {
    assert_eq!(frame["type"], "alert_update", "{frame}");
    let message = frame["message"]
        .as_object()
        .unwrap_or_else(|| panic!("message is not an object: {frame}"));
    assert_eq!(message.get("alert_id"), Some(&alert_id), "{frame}");
    assert_eq!(message["update_type"], update_type, "{frame}");
    assert_utc_timestamp(&message["timestamp"]);
}

/// Asserts the two frames every tab gets after a read-state change.
async fn expect_read_sync(tab: &mut WsClient, alert_id: Value, update_type: &str, count: i64) {
    let update = tab.next_json().await;
    assert_alert_update(&update, alert_id, update_type);
    let unread = tab.expect("unread_count").await;
    assert_eq!(unread["count"], count, "{unread}");
}

/// Asserts an `error` frame with this code and a non-empty message.
fn assert_error_frame(frame: &Value, code: &str, sent: &str) {
    assert_eq!(frame["type"], "error", "sent {sent:.200}, got {frame}");
    assert_eq!(frame["code"], code, "sent {sent:.200}, got {frame}");
    assert!(
        frame["message"].as_str().is_some_and(|m| !m.is_empty()),
        "sent {sent:.200}, got {frame}"
    );
}

#[actix_web::test]
async fn ping_echoes_any_json_timestamp_with_the_server_time() {
    let app = spawn_app().await;
    let mut ws = app.connect("1").await;
    for timestamp in [
        json!(1234567890),
        json!(-3),
        json!(1.25),
        json!(12345678901234_i64),
        json!("2025-11-25T12:00:00Z"),
        json!(""),
        json!({"a": [1, null, {"b": "c"}], "n": 2}),
        json!([1, "two", 3.5]),
        json!(true),
        json!(null),
    ] {
        ws.send_json(json!({"type": "ping", "timestamp": timestamp}))
            .await;
        let pong = ws.expect("pong").await;
        assert_eq!(pong["timestamp"], timestamp, "{pong}");
        assert!(pong.get("timestamp").is_some(), "{pong}");
        assert_utc_timestamp(&pong["server_time"]);
    }
    // No timestamp at all: echoed as null, not left out.
    ws.send_json(json!({"type": "ping"})).await;
    let pong = ws.expect("pong").await;
    assert_eq!(pong.get("timestamp"), Some(&Value::Null), "{pong}");
    assert_utc_timestamp(&pong["server_time"]);
    // Extra fields are ignored.
    ws.send_json(json!({"type": "ping", "timestamp": 7, "extra": {"x": 1}}))
        .await;
    assert_eq!(ws.expect("pong").await["timestamp"], 7);
}

#[actix_web::test]
async fn get_unread_count_answers_the_users_own_count() {
    let app = spawn_app().await;
    let mut ws = app.connect("1").await;
    ws.send_json(json!({"type": "get_unread_count"})).await;
    let answer = ws.expect("unread_count").await;
    assert_eq!(answer, json!({"type": "unread_count", "count": 0}));
    drop(ws);

    for i in 0..3 {
        app.create_alert("1", &format!("mine-{i}")).await;
    }
    for i in 0..2 {
        app.create_alert("2", &format!("theirs-{i}")).await;
    }
    app.create_alert("11", "prefix-neighbour").await;

    let mut ws = app.connect("1").await;
    ws.send_json(json!({"type": "get_unread_count"})).await;
    assert_eq!(ws.expect("unread_count").await["count"], 3);
    let mut other = app.connect("2").await;
    other.send_json(json!({"type": "get_unread_count"})).await;
    assert_eq!(other.expect("unread_count").await["count"], 2);
    // Asking again is idempotent and the answer only goes to the asker.
    ws.send_json(json!({"type": "get_unread_count"})).await;
    assert_eq!(ws.expect("unread_count").await["count"], 3);
    other.expect_silence(QUIET).await;
}

#[actix_web::test]
async fn subscribe_to_updates_is_acknowledged_with_the_user() {
    let app = spawn_app().await;
    let mut ws = app.connect("alice_7").await;
    ws.send_json(json!({"type": "subscribe_to_updates"})).await;
    let ack = ws.expect("subscribed").await;
    assert_eq!(ack["user_id"], "alice_7", "{ack}");
    assert_utc_timestamp(&ack["timestamp"]);
    // A session is subscribed from the start; asking twice is fine and the
    // session still gets its alerts.
    ws.send_json(json!({"type": "subscribe_to_updates"})).await;
    ws.expect("subscribed").await;
    let id = app.create_alert("alice_7", "after-subscribe").await;
    let alert = ws.expect("breach_alert").await;
    assert_eq!(alert["message"]["alert_id"], id);
}

#[actix_web::test]
async fn mark_read_syncs_every_tab_then_counts() {
    let app = spawn_app().await;
    let ids: Vec<i64> = {
        let mut ids = Vec::new();
        for i in 0..3 {
            ids.push(app.create_alert("1", &format!("b-{i}")).await);
        }
        ids
    };
    let mut tab_a = app.connect("1").await;
    let mut tab_b = app.connect("1").await;

    tab_a
        .send_json(json!({"type": "mark_read", "alert_id": ids[1]}))
        .await;
    expect_read_sync(&mut tab_a, json!(ids[1]), "marked_read", 2).await;
    expect_read_sync(&mut tab_b, json!(ids[1]), "marked_read", 2).await;
    assert_eq!(rest_unread_count(&app, "1").await, 2);

    // Marking the same alert again is harmless: answered the same way, the
    // count does not move.
    tab_b
        .send_json(json!({"type": "mark_read", "alert_id": ids[1]}))
        .await;
    expect_read_sync(&mut tab_a, json!(ids[1]), "marked_read", 2).await;
    expect_read_sync(&mut tab_b, json!(ids[1]), "marked_read", 2).await;
    assert_eq!(rest_unread_count(&app, "1").await, 2);

    // Another one, from the other tab.
    tab_b
        .send_json(json!({"type": "mark_read", "alert_id": ids[0]}))
        .await;
    expect_read_sync(&mut tab_a, json!(ids[0]), "marked_read", 1).await;
    expect_read_sync(&mut tab_b, json!(ids[0]), "marked_read", 1).await;

    // The stored alerts reflect it.
    let (status, body) = app
        .get_as("/api/v1/alerts", &format!("Bearer {}", jwt("1")))
        .await;
    assert_eq!(status, 200, "{body}");
    let read: Vec<(i64, bool)> = body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["alert_id"].as_i64().unwrap(),
                a["read"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(read, [(ids[2], false), (ids[1], true), (ids[0], true)]);

    // Nothing else was sent to either tab.
    app.assert_nothing_queued("1", &mut [&mut tab_a, &mut tab_b])
        .await;
}

#[actix_web::test]
async fn mark_read_of_another_users_or_an_unknown_alert_is_not_found() {
    let app = spawn_app().await;
    let mine = app.create_alert("1", "mine").await;
    let theirs = app.create_alert("2", "theirs").await;
    let mut ws = app.connect("1").await;
    let mut victim = app.connect("2").await;

    for alert_id in [theirs, theirs + 1_000_000, 0, -1] {
        let sent = json!({"type": "mark_read", "alert_id": alert_id});
        ws.send_json(sent.clone()).await;
        let frame = ws.next_json().await;
        assert_error_frame(&frame, "not_found", &sent.to_string());
        ws.assert_alive().await;
    }
    // The other user's alert is untouched and they heard nothing.
    assert_eq!(rest_unread_count(&app, "2").await, 1);
    victim.expect_silence(QUIET).await;
    // Our own count is unchanged too, and nobody was told anything.
    assert_eq!(rest_unread_count(&app, "1").await, 1);
    app.assert_nothing_queued("1", &mut [&mut ws]).await;
    app.assert_nothing_queued("2", &mut [&mut victim]).await;
    // And our own alert can still be marked.
    ws.send_json(json!({"type": "mark_read", "alert_id": mine}))
        .await;
    expect_read_sync(&mut ws, json!(mine), "marked_read", 1).await;
}

#[actix_web::test]
async fn mark_all_read_syncs_every_tab_with_a_null_alert_id() {
    let app = spawn_app().await;
    for i in 0..4 {
        app.create_alert("1", &format!("b-{i}")).await;
    }
    let theirs = app.create_alert("2", "theirs").await;
    let mut tab_a = app.connect("1").await;
    let mut tab_b = app.connect("1").await;
    let mut other = app.connect("2").await;

    tab_a.send_json(json!({"type": "mark_all_read"})).await;
    expect_read_sync(&mut tab_a, Value::Null, "marked_all_read", 0).await;
    expect_read_sync(&mut tab_b, Value::Null, "marked_all_read", 0).await;
    assert_eq!(rest_unread_count(&app, "1").await, 0);
    tab_b.send_json(json!({"type": "get_unread_count"})).await;
    assert_eq!(tab_b.expect("unread_count").await["count"], 0);

    // Nothing left to mark: still answered, still 0.
    tab_b.send_json(json!({"type": "mark_all_read"})).await;
    expect_read_sync(&mut tab_a, Value::Null, "marked_all_read", 0).await;
    expect_read_sync(&mut tab_b, Value::Null, "marked_all_read", 0).await;

    // The other user's alert is still unread, and they heard nothing.
    assert_eq!(rest_unread_count(&app, "2").await, 1);
    other.expect_silence(QUIET).await;
    other
        .send_json(json!({"type": "mark_read", "alert_id": theirs}))
        .await;
    expect_read_sync(&mut other, json!(theirs), "marked_read", 0).await;
    app.assert_nothing_queued("1", &mut [&mut tab_a, &mut tab_b])
        .await;
}

#[actix_web::test]
async fn malformed_frames_get_their_error_code_and_the_session_lives() {
    let app = spawn_app().await;
    let mut ws = app.connect("1").await;
    let cases = [
        ("not json", "invalid_json"),
        ("{", "invalid_json"),
        ("{\"type\":\"ping\",}", "invalid_json"),
        ("", "invalid_json"),
        ("[1,2]", "invalid_message"),
        ("[]", "invalid_message"),
        ("\"ping\"", "invalid_message"),
        ("42", "invalid_message"),
        ("null", "invalid_message"),
        ("{}", "invalid_message"),
        (r#"{"no_type":1}"#, "invalid_message"),
        (r#"{"type":7}"#, "invalid_message"),
        (r#"{"type":null}"#, "invalid_message"),
        (r#"{"type":["ping"]}"#, "invalid_message"),
        (r#"{"type":"mark_read","alert_id":"5"}"#, "invalid_message"),
        (r#"{"type":"mark_read","alert_id":1.5}"#, "invalid_message"),
        (r#"{"type":"mark_read"}"#, "invalid_message"),
        (r#"{"type":"mark_read","alert_id":null}"#, "invalid_message"),
        (r#"{"type":"dance"}"#, "unknown_type"),
        (r#"{"type":""}"#, "unknown_type"),
    ];
    // Each case is sent and answered before the next (well inside the
    // message rate limit of 20/s with a burst of 40).
    for (sent, code) in cases {
        ws.send_text(sent).await;
        let frame = ws.next_json().await;
        assert_error_frame(&frame, code, sent);
    }
    // An error never closes the session.
    ws.assert_alive().await;
    let id = app.create_alert("1", "still-live").await;
    assert_eq!(ws.expect("breach_alert").await["message"]["alert_id"], id);
}

#[actix_web::test]
async fn a_huge_unknown_type_is_not_echoed_back_in_full() {
    let app = spawn_app().await;
    let mut ws = app.connect("1").await;
    let huge = "x".repeat(60 * 1024);
    let sent = json!({"type": huge}).to_string();
    ws.send_text(&sent).await;
    let frame = ws.next_json().await;
    assert_error_frame(&frame, "unknown_type", "a 60 KiB type");
    let length = frame.to_string().len();
    assert!(
        length < 1024,
        "the error frame is {length} bytes: the type was echoed"
    );
    ws.assert_alive().await;
}

#[actix_web::test]
async fn a_live_alert_carries_the_stored_fields_and_no_replayed_flag() {
    let app = spawn_app().await;
    let mut ws = app.connect("1").await;

    let (status, created) = app
        .trigger(json!({
            "user_id": "1",
            "breach_id": "BREACH_001",
            "title": "Data Breach Detected",
            "severity": "critical",
            "confidence": 0.95,
            "detected_at": "2025-11-25T12:00:00Z",
            "description": "Credentials found in a paste",
            "source": "hibp",
        }))
        .await;
    assert_eq!(status, 201, "{created}");
    let stored = &created["alert"];
    let frame = ws.expect("breach_alert").await;
    let message = &frame["message"];
    assert_eq!(message["alert_id"], stored["alert_id"], "{frame}");
    assert_eq!(message["breach_id"], "BREACH_001");
    assert_eq!(message["title"], "Data Breach Detected");
    assert_eq!(message["severity"], "CRITICAL");
    assert_eq!(message["confidence"], 0.95);
    assert_eq!(message["description"], "Credentials found in a paste");
    assert_eq!(message["read"], false);
    let detected =
        chrono::DateTime::parse_from_rfc3339(message["detected_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        detected,
        chrono::DateTime::parse_from_rfc3339("2025-11-25T12:00:00Z").unwrap()
    );
    assert_utc_timestamp(&message["detected_at"]);
    assert_utc_timestamp(&frame["timestamp"]);
    // Live: no `replayed` (or false).
    assert!(
        message
            .get("replayed")
            .is_none_or(|r| r == &Value::Bool(false)),
        "{frame}"
    );
    // Every field the trigger answered with is what the socket got.
    for (key, value) in stored.as_object().unwrap() {
        assert_eq!(message.get(key), Some(value), "field {key}: {frame}");
    }

    // No description: present and null.
    let (status, created) = app.trigger(alert_body("1", "BREACH_002")).await;
    assert_eq!(status, 201, "{created}");
    let frame = ws.expect("breach_alert").await;
    assert_eq!(frame["message"]["alert_id"], created["alert"]["alert_id"]);
    assert_eq!(
        frame["message"].get("description"),
        Some(&Value::Null),
        "{frame}"
    );

    // A retried trigger pushes nothing; a live alert is not followed by an
    // unread_count.
    let (status, again) = app.trigger(alert_body("1", "BREACH_002")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["created"], false);
    ws.expect_silence(QUIET).await;
    app.assert_nothing_queued("1", &mut [&mut ws]).await;
}

#[actix_web::test]
async fn one_users_alerts_and_read_updates_never_reach_another_user() {
    let app = spawn_app().await;
    let mut one = app.connect("1").await;
    let mut one_b = app.connect("1").await;
    // Users whose ids share a prefix are still different users.
    let mut two = app.connect("2").await;
    let mut eleven = app.connect("11").await;

    let id = app.create_alert("1", "for-one").await;
    for tab in [&mut one, &mut one_b] {
        assert_eq!(tab.expect("breach_alert").await["message"]["alert_id"], id);
    }
    one.send_json(json!({"type": "mark_read", "alert_id": id}))
        .await;
    expect_read_sync(&mut one, json!(id), "marked_read", 0).await;
    expect_read_sync(&mut one_b, json!(id), "marked_read", 0).await;
    one_b.send_json(json!({"type": "mark_all_read"})).await;
    expect_read_sync(&mut one, Value::Null, "marked_all_read", 0).await;
    expect_read_sync(&mut one_b, Value::Null, "marked_all_read", 0).await;
    let (status, _) = app
        .post_as(
            &format!("/api/v1/alerts/{id}/read"),
            Some(&format!("Bearer {}", jwt("1"))),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    expect_read_sync(&mut one, json!(id), "marked_read", 0).await;
    expect_read_sync(&mut one_b, json!(id), "marked_read", 0).await;

    two.expect_silence(QUIET).await;
    eleven.expect_silence(Duration::from_millis(50)).await;
    // Their own next alert is the first thing they get.
    app.assert_nothing_queued("2", &mut [&mut two]).await;
    app.assert_nothing_queued("11", &mut [&mut eleven]).await;
    app.assert_nothing_queued("1", &mut [&mut one, &mut one_b])
        .await;
}
