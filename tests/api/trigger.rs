//! Contract §2, the trigger for internal services: `POST /api/v1/alerts` and
//! `POST /api/v1/alerts/batch` — the stored alert, live delivery to every
//! tab of the user and no one else, idempotent retries, service-key auth,
//! field validation, body limits and the all-or-nothing batch.

use std::time::Duration;

use actix_web::web::Bytes;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use alerthub_test_support::*;

const TRIGGER: &str = "/api/v1/alerts";
const BATCH: &str = "/api/v1/alerts/batch";
const SILENCE: Duration = Duration::from_millis(300);

fn service() -> String {
    format!("Bearer {SERVICE_KEY}")
}

/// Posts raw bytes as `application/json`, with an optional Authorization.
async fn post_raw(app: &TestApp, path: &str, auth: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let mut req = app
        .http
        .post(app.url(path))
        .insert_header(("Content-Type", "application/json"));
    if let Some(auth) = auth {
        req = req.insert_header(("Authorization", auth));
    }
    let mut response = req
        .send_body(body)
        .await
        .expect("request reaches the server");
    let bytes = response.body().await.expect("body");
    (
        response.status().as_u16(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Posts a body streamed in chunks, so it has no Content-Length.
async fn post_chunked(app: &TestApp, path: &str, body: Vec<u8>) -> (u16, Value) {
    let chunks: Vec<Result<Bytes, std::io::Error>> = body
        .chunks(8 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let mut response = app
        .http
        .post(app.url(path))
        .insert_header(("Content-Type", "application/json"))
        .insert_header(("Authorization", service()))
        .send_stream(futures_util::stream::iter(chunks))
        .await
        .expect("request reaches the server");
    let bytes = response.body().await.expect("body");
    (
        response.status().as_u16(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A JSON object serialised to exactly `size` bytes by padding an unknown
/// field (so a body that gets through the size check is a 422).
fn padded_body(size: usize) -> Vec<u8> {
    let mut body = alert_body("1", "PAD");
    body["pad"] = json!("");
    let base = serde_json::to_vec(&body).unwrap().len();
    body["pad"] = json!("x".repeat(size - base));
    let bytes = serde_json::to_vec(&body).unwrap();
    assert_eq!(bytes.len(), size);
    bytes
}

/// The user's stored alerts, newest first, as the user sees them.
async fn stored(app: &TestApp, user: &str) -> Vec<Value> {
    let (status, body) = app
        .get_as("/api/v1/alerts?limit=200", &format!("Bearer {}", jwt(user)))
        .await;
    assert_eq!(status, 200, "{body}");
    body["alerts"].as_array().unwrap().clone()
}

fn parse_ts(s: &Value) -> DateTime<Utc> {
    let s = s
        .as_str()
        .unwrap_or_else(|| panic!("timestamp is not a string: {s}"));
    assert!(s.ends_with('Z'), "not UTC with Z: {s}");
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("not RFC 3339: {s}: {e}"))
        .with_timezone(&Utc)
}

/// A live `breach_alert` must not say it was replayed.
fn assert_live(frame: &Value) {
    assert_eq!(frame["type"], "breach_alert", "{frame}");
    let replayed = frame["message"].get("replayed");
    assert!(
        replayed.is_none() || replayed == Some(&json!(false)),
        "a live alert carries replayed: {frame}"
    );
    parse_ts(&frame["timestamp"]);
}

// ---------------------------------------------------------------- single

#[actix_web::test]
async fn a_trigger_returns_201_with_every_field_of_the_stored_alert() {
    let app = spawn_app().await;
    let (status, body) = app
        .trigger(json!({
            "user_id": "1",
            "breach_id": "BREACH_001",
            "title": "Data Breach Detected",
            "severity": "high",
            "confidence": 0.95,
            "detected_at": "2025-11-25T12:00:00Z",
            "description": "Credentials found in a paste",
            "source": "scanner"
        }))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["created"], true, "{body}");
    let alert = &body["alert"];
    assert!(
        alert["alert_id"].as_i64().is_some_and(|id| id > 0),
        "{body}"
    );
    assert_eq!(alert["breach_id"], "BREACH_001");
    assert_eq!(alert["title"], "Data Breach Detected");
    assert_eq!(alert["severity"], "HIGH");
    assert_eq!(alert["confidence"], 0.95);
    assert_eq!(alert["detected_at"], "2025-11-25T12:00:00Z");
    assert_eq!(alert["description"], "Credentials found in a paste");
    assert_eq!(alert["read"], false);
    // The stored alert is what the user later lists.
    assert_eq!(stored(&app, "1").await, vec![alert.clone()]);
}

#[actix_web::test]
async fn a_minimal_trigger_gets_the_defaults() {
    let app = spawn_app().await;
    let before = Utc::now();
    let (status, body) = app
        .trigger(
            json!({"user_id":"1","breach_id":"B","title":"T","severity":"CrItIcAl","confidence":0}),
        )
        .await;
    let after = Utc::now();
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["created"], true);
    let alert = &body["alert"];
    assert_eq!(alert["severity"], "CRITICAL");
    assert_eq!(alert["confidence"], 0.0);
    assert_eq!(alert["read"], false);
    // An absent description is null, not missing.
    assert_eq!(alert.get("description"), Some(&Value::Null), "{body}");
    // detected_at defaults to now, in UTC with Z.
    let detected = parse_ts(&alert["detected_at"]);
    assert!(
        detected >= before - chrono::Duration::milliseconds(1)
            && detected <= after + chrono::Duration::milliseconds(1),
        "detected_at {detected} is not between {before} and {after}"
    );
}

#[actix_web::test]
async fn a_trigger_reaches_every_tab_of_the_user_and_no_other_user() {
    let app = spawn_app().await;
    let mut tab1 = app.connect("1").await;
    let mut tab2 = app.connect("1").await;
    let mut other = app.connect("2").await;

    let (status, body) = app
        .trigger(json!({"user_id":"1","breach_id":"BREACH_001","title":"Data Breach Detected","severity":"medium","confidence":0.5}))
        .await;
    assert_eq!(status, 201, "{body}");
    for tab in [&mut tab1, &mut tab2] {
        let frame = tab.next_json().await;
        assert_live(&frame);
        let mut message = frame["message"].clone();
        message.as_object_mut().unwrap().remove("replayed");
        assert_eq!(message, body["alert"], "the pushed alert is the stored one");
    }
    // No unread_count follows a live alert; nothing at all reaches user 2.
    tab1.expect_silence(SILENCE).await;
    app.assert_nothing_queued("1", &mut [&mut tab1, &mut tab2])
        .await;
    app.assert_nothing_queued("2", &mut [&mut other]).await;
}

#[actix_web::test]
async fn a_retry_returns_200_with_the_stored_alert_and_pushes_nothing() {
    let app = spawn_app().await;
    let mut tab = app.connect("1").await;
    let first =
        json!({"user_id":"1","breach_id":"B1","title":"First","severity":"low","confidence":0.1});
    let (status, created) = app.trigger(first.clone()).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        tab.expect("breach_alert").await["message"]["alert_id"],
        created["alert"]["alert_id"]
    );

    // The same (user, breach) again, even with other fields, is the stored alert.
    for retry in [
        first.clone(),
        json!({"user_id":"1","breach_id":"B1","title":"Changed","severity":"critical","confidence":1}),
    ] {
        let (status, body) = app.trigger(retry).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["created"], false, "{body}");
        assert_eq!(body["alert"], created["alert"], "{body}");
    }
    // The same breach id for another user is another alert.
    let (status, body) = app
        .trigger(json!({"user_id":"2","breach_id":"B1","title":"First","severity":"low","confidence":0.1}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_ne!(body["alert"]["alert_id"], created["alert"]["alert_id"]);

    app.assert_nothing_queued("1", &mut [&mut tab]).await;
    assert_eq!(stored(&app, "1").await.len(), 2, "B1 and the sentinel only");
}

#[actix_web::test]
async fn a_numeric_user_id_is_the_decimal_string() {
    let app = spawn_app().await;
    let mut tab = app.connect("42").await;
    let (status, body) = app
        .trigger(json!({"user_id":42,"breach_id":"B","title":"T","severity":"HIGH","confidence":1}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(tab.expect("breach_alert").await["message"], body["alert"]);
    assert_eq!(stored(&app, "42").await, vec![body["alert"].clone()]);
}

#[actix_web::test]
async fn detected_at_with_an_offset_is_normalised_to_utc() {
    let app = spawn_app().await;
    let cases = [
        ("2025-11-25T13:00:00+01:00", "2025-11-25T12:00:00Z"),
        ("2025-11-25T09:30:00-02:30", "2025-11-25T12:00:00Z"),
        ("2025-11-25T12:00:00z", "2025-11-25T12:00:00Z"),
    ];
    for (i, (input, expected)) in cases.into_iter().enumerate() {
        let mut body = alert_body("1", &format!("B{i}"));
        body["detected_at"] = json!(input);
        let (status, resp) = app.trigger(body).await;
        assert_eq!(status, 201, "{input}: {resp}");
        assert_eq!(resp["alert"]["detected_at"], expected, "{input}");
    }
    // Fractional seconds keep the instant.
    let mut body = alert_body("1", "frac");
    body["detected_at"] = json!("2025-11-25T14:00:00.25+02:00");
    let (status, resp) = app.trigger(body).await;
    assert_eq!(status, 201, "{resp}");
    assert_eq!(
        parse_ts(&resp["alert"]["detected_at"]),
        DateTime::parse_from_rfc3339("2025-11-25T12:00:00.25Z").unwrap()
    );
}

#[actix_web::test]
async fn every_bad_field_is_named_in_details() {
    let app = spawn_app().await;
    let valid = || alert_body("1", "B");
    let with = |field: &str, value: Value| {
        let mut b = valid();
        b[field] = value;
        b
    };
    let without = |field: &str| {
        let mut b = valid();
        b.as_object_mut().unwrap().remove(field);
        b
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        ("missing user_id", without("user_id"), "user_id"),
        ("missing breach_id", without("breach_id"), "breach_id"),
        ("missing title", without("title"), "title"),
        ("missing severity", without("severity"), "severity"),
        ("missing confidence", without("confidence"), "confidence"),
        ("null user_id", with("user_id", Value::Null), "user_id"),
        (
            "user_id with a dash",
            with("user_id", json!("a-b")),
            "user_id",
        ),
        ("empty user_id", with("user_id", json!("")), "user_id"),
        (
            "user_id of 65",
            with("user_id", json!("a".repeat(65))),
            "user_id",
        ),
        ("negative user_id", with("user_id", json!(-1)), "user_id"),
        ("empty breach_id", with("breach_id", json!("")), "breach_id"),
        (
            "breach_id of 129",
            with("breach_id", json!("b".repeat(129))),
            "breach_id",
        ),
        (
            "numeric breach_id",
            with("breach_id", json!(5)),
            "breach_id",
        ),
        ("empty title", with("title", json!("")), "title"),
        (
            "title of 201",
            with("title", json!("t".repeat(201))),
            "title",
        ),
        (
            "description of 4001",
            with("description", json!("d".repeat(4001))),
            "description",
        ),
        (
            "source of 65",
            with("source", json!("s".repeat(65))),
            "source",
        ),
        (
            "confidence below 0",
            with("confidence", json!(-0.01)),
            "confidence",
        ),
        (
            "confidence above 1",
            with("confidence", json!(1.01)),
            "confidence",
        ),
        (
            "confidence as a string",
            with("confidence", json!("0.5")),
            "confidence",
        ),
        (
            "unknown severity",
            with("severity", json!("urgent")),
            "severity",
        ),
        ("numeric severity", with("severity", json!(3)), "severity"),
        (
            "detected_at not RFC 3339",
            with("detected_at", json!("2025-11-25 12:00")),
            "detected_at",
        ),
        (
            "detected_at a word",
            with("detected_at", json!("yesterday")),
            "detected_at",
        ),
        (
            "detected_at a number",
            with("detected_at", json!(1764072000)),
            "detected_at",
        ),
        ("unknown field", with("extra", json!(1)), "extra"),
    ];
    for (what, body, field) in cases {
        let details = assert_error(&app.trigger(body).await, 422, "validation_failed");
        let keys: Vec<&String> = details
            .as_object()
            .unwrap_or_else(|| panic!("{what}: details is not an object: {details}"))
            .keys()
            .collect();
        assert_eq!(keys, [field], "{what}: {details}");
        assert!(
            details[field].as_str().is_some_and(|s| !s.is_empty()),
            "{what}: {details}"
        );
    }
    // Every bad field at once is named at once.
    let details = assert_error(
        &app.trigger(json!({"user_id":"a b","title":"","severity":"x","confidence":2,"extra":1,"source":"s".repeat(65)}))
            .await,
        422,
        "validation_failed",
    );
    let mut keys: Vec<&String> = details.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "breach_id",
            "confidence",
            "extra",
            "severity",
            "source",
            "title",
            "user_id"
        ],
        "{details}"
    );
    // A JSON value that is not an object is a validation error too.
    assert_error(&app.trigger(json!([1, 2])).await, 422, "validation_failed");
    // Nothing was stored.
    assert!(stored(&app, "1").await.is_empty());
}

#[actix_web::test]
async fn values_at_the_limits_are_accepted() {
    let app = spawn_app().await;
    let user = "u".repeat(64);
    let (status, body) = app
        .trigger(json!({
            "user_id": user,
            "breach_id": "b".repeat(128),
            "title": "é".repeat(200),
            "severity": "Medium",
            "confidence": 1,
            "description": "d".repeat(4000),
            "source": "s".repeat(64),
        }))
        .await;
    assert_eq!(status, 201, "{body}");
    let alert = &body["alert"];
    assert_eq!(alert["breach_id"], "b".repeat(128));
    assert_eq!(alert["title"], "é".repeat(200));
    assert_eq!(alert["description"], "d".repeat(4000));
    assert_eq!(alert["severity"], "MEDIUM");
    assert_eq!(alert["confidence"], 1.0);
    // Optional fields may be null; an empty description is kept as given.
    let (status, body) = app
        .trigger(
            json!({"user_id":"1","breach_id":"x","title":"t","severity":"low","confidence":0,
                         "description":"","source":null,"detected_at":null}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["alert"]["description"], "");
    assert_eq!(body["alert"]["confidence"], 0.0);
}

#[actix_web::test]
async fn the_trigger_needs_a_service_key() {
    let app = spawn_app().await;
    let body = alert_body("1", "B");
    let opaque = alerthub::storage::create_token(&mut app.storage(), "1").unwrap();

    assert_error(
        &app.post_as(TRIGGER, None, body.clone()).await,
        401,
        "unauthorized",
    );
    for bad in [
        "Bearer wrong-key",
        "wrong-key",
        "Bearer ",
        "Basic c3ZjOnRlc3Q=",
        "Bearer a.b.c",
    ] {
        let response = app.post_as(TRIGGER, Some(bad), body.clone()).await;
        assert_error(&response, 401, "unauthorized");
    }
    // A valid user credential is known but not allowed.
    for user_token in [format!("Bearer {}", jwt("1")), format!("Token {opaque}")] {
        let response = app.post_as(TRIGGER, Some(&user_token), body.clone()).await;
        assert_error(&response, 403, "forbidden");
        let response = app
            .post_as(BATCH, Some(&user_token), json!({"alerts":[body.clone()]}))
            .await;
        assert_error(&response, 403, "forbidden");
    }
    assert_error(
        &app.post_as(BATCH, None, json!({"alerts":[body.clone()]}))
            .await,
        401,
        "unauthorized",
    );
    assert_error(
        &app.post_as(
            BATCH,
            Some("Bearer wrong-key"),
            json!({"alerts":[body.clone()]}),
        )
        .await,
        401,
        "unauthorized",
    );
    // Nothing was stored by any of them; the real key works.
    assert!(stored(&app, "1").await.is_empty());
    let (status, _) = app.post_as(TRIGGER, Some(&service()), body).await;
    assert_eq!(status, 201);
}

#[actix_web::test]
async fn auth_is_checked_before_the_body() {
    let app = spawn_app().await;
    let garbage = b"{not json".to_vec();
    for path in [TRIGGER, BATCH] {
        assert_error(
            &post_raw(&app, path, None, garbage.clone()).await,
            401,
            "unauthorized",
        );
        assert_error(
            &post_raw(&app, path, Some("Bearer wrong"), garbage.clone()).await,
            401,
            "unauthorized",
        );
        let user = format!("Bearer {}", jwt("1"));
        assert_error(
            &post_raw(&app, path, Some(&user), garbage.clone()).await,
            403,
            "forbidden",
        );
        // With the key, the same body is a JSON error.
        assert_error(
            &post_raw(&app, path, Some(&service()), garbage.clone()).await,
            400,
            "invalid_json",
        );
    }
    // An oversized body from a stranger is still a 401.
    assert_error(
        &post_raw(&app, TRIGGER, Some("Bearer wrong"), padded_body(70_000)).await,
        401,
        "unauthorized",
    );
}

#[actix_web::test]
async fn invalid_json_is_400() {
    let app = spawn_app().await;
    for raw in [
        &b"{"[..],
        b"not json",
        b"",
        b"{\"user_id\":\"1\",}",
        b"\xff\xfe",
    ] {
        for path in [TRIGGER, BATCH] {
            let response = post_raw(&app, path, Some(&service()), raw.to_vec()).await;
            assert_error(&response, 400, "invalid_json");
        }
    }
}

#[actix_web::test]
async fn a_body_over_64_kib_is_413() {
    let app = spawn_app().await;
    const LIMIT: usize = 64 * 1024;
    // Exactly 64 KiB is read (and refused for its unknown field)...
    let details = assert_error(
        &post_raw(&app, TRIGGER, Some(&service()), padded_body(LIMIT)).await,
        422,
        "validation_failed",
    );
    assert!(details.get("pad").is_some(), "{details}");
    // ...one byte more is too large, with or without a Content-Length.
    assert_error(
        &post_raw(&app, TRIGGER, Some(&service()), padded_body(LIMIT + 1)).await,
        413,
        "payload_too_large",
    );
    assert_error(
        &post_chunked(&app, TRIGGER, padded_body(LIMIT + 1)).await,
        413,
        "payload_too_large",
    );
    // A valid alert whose description alone is over the limit: still 413.
    let mut body = alert_body("1", "big");
    body["description"] = json!("d".repeat(LIMIT));
    assert_error(&app.trigger(body).await, 413, "payload_too_large");
    assert!(stored(&app, "1").await.is_empty());
}

// ----------------------------------------------------------------- batch

async fn batch(app: &TestApp, alerts: Vec<Value>) -> (u16, Value) {
    app.post_as(BATCH, Some(&service()), json!({ "alerts": alerts }))
        .await
}

fn results(body: &Value) -> Vec<(i64, bool)> {
    let top = body.as_object().unwrap();
    assert_eq!(top.keys().collect::<Vec<_>>(), ["results"], "{body}");
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["alert_id"].as_i64().unwrap(),
                r["created"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn a_batch_stores_every_item_and_answers_in_order() {
    let app = spawn_app().await;
    let (status, body) = batch(
        &app,
        vec![
            alert_body("1", "A"),
            alert_body("2", "B"),
            alert_body("1", "C"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let r = results(&body);
    assert_eq!(r.len(), 3, "{body}");
    assert!(r.iter().all(|(_, created)| *created), "{body}");
    assert!(
        r[0].0 < r[2].0,
        "a user's ids increase in creation order: {body}"
    );
    let ids = |alerts: Vec<Value>| -> Vec<(i64, String)> {
        alerts
            .iter()
            .map(|a| {
                (
                    a["alert_id"].as_i64().unwrap(),
                    a["breach_id"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        ids(stored(&app, "1").await),
        [(r[2].0, "C".to_owned()), (r[0].0, "A".to_owned())]
    );
    assert_eq!(ids(stored(&app, "2").await), [(r[1].0, "B".to_owned())]);
    // The stored items are full alerts, as a single trigger stores them.
    let a = &stored(&app, "1").await[1];
    assert_eq!(a["title"], "Breach A");
    assert_eq!(a["severity"], "HIGH");
    assert_eq!(a["confidence"], 0.9);
    assert_eq!(a["description"], Value::Null);
    assert_eq!(a["read"], false);
}

#[actix_web::test]
async fn duplicates_in_a_batch_and_against_earlier_triggers_are_not_created_again() {
    let app = spawn_app().await;
    let mut tab = app.connect("1").await;
    let earlier = app.create_alert("1", "B0").await;
    assert_eq!(
        tab.expect("breach_alert").await["message"]["alert_id"],
        earlier
    );

    let (status, body) = batch(
        &app,
        vec![
            alert_body("1", "B1"),
            alert_body("1", "B0"),
            alert_body("1", "B1"),
            alert_body("2", "B1"),
            alert_body("1", "B2"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let r = results(&body);
    assert_eq!(r.len(), 5, "{body}");
    assert!(r[0].1, "{body}");
    assert_eq!(r[1], (earlier, false), "{body}");
    assert_eq!(r[2], (r[0].0, false), "{body}");
    assert!(r[3].1 && r[3].0 != r[0].0, "{body}");
    assert!(r[4].1, "{body}");

    // Only the new alerts are pushed, once each, in order.
    for id in [r[0].0, r[4].0] {
        let frame = tab.next_json().await;
        assert_live(&frame);
        assert_eq!(frame["message"]["alert_id"], id, "{frame}");
    }
    app.assert_nothing_queued("1", &mut [&mut tab]).await;

    // Retrying the whole batch creates nothing.
    let (status, again) = batch(&app, vec![alert_body("1", "B1"), alert_body("1", "B2")]).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(results(&again), [(r[0].0, false), (r[4].0, false)]);
    assert_eq!(
        stored(&app, "1").await.len(),
        4,
        "B0, B1, B2 and the sentinel"
    );
}

#[actix_web::test]
async fn one_invalid_item_stores_nothing() {
    let app = spawn_app().await;
    let mut tab = app.connect("1").await;
    let mut bad_title = alert_body("1", "C");
    bad_title["title"] = json!("");
    let mut bad_two = alert_body("2", "D");
    bad_two["confidence"] = json!(2);
    bad_two["severity"] = json!("nope");
    let details = assert_error(
        &batch(
            &app,
            vec![
                alert_body("1", "A"),
                alert_body("1", "B"),
                bad_title,
                bad_two,
                alert_body("1", "E"),
            ],
        )
        .await,
        422,
        "validation_failed",
    );
    let keys: Vec<&String> = details.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["2", "3"], "{details}");
    assert_eq!(
        details["2"].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["title"],
        "{details}"
    );
    let mut bad = details["3"].as_object().unwrap().keys().collect::<Vec<_>>();
    bad.sort();
    assert_eq!(bad, ["confidence", "severity"], "{details}");

    // Nothing stored, nothing pushed.
    let (status, count) = app
        .get_as(
            "/api/v1/alerts/unread-count",
            &format!("Bearer {}", jwt("1")),
        )
        .await;
    assert_eq!((status, count), (200, json!({"count": 0})));
    assert!(stored(&app, "1").await.is_empty());
    assert!(stored(&app, "2").await.is_empty());
    app.assert_nothing_queued("1", &mut [&mut tab]).await;
}

#[actix_web::test]
async fn a_batch_holds_1_to_1000_items() {
    let app = spawn_app().await;
    let details = assert_error(&batch(&app, vec![]).await, 422, "validation_failed");
    assert!(details.get("alerts").is_some(), "{details}");

    let many = |n: usize| {
        (0..n)
            .map(|i| alert_body("1", &format!("m{i}")))
            .collect::<Vec<_>>()
    };
    let details = assert_error(&batch(&app, many(1001)).await, 422, "validation_failed");
    assert!(details.get("alerts").is_some(), "{details}");
    assert!(stored(&app, "1").await.is_empty());

    // The shape of the envelope is checked too.
    for body in [
        json!({}),
        json!({"alerts": "x"}),
        json!({"alerts": alert_body("1", "x")}),
    ] {
        let details = assert_error(
            &app.post_as(BATCH, Some(&service()), body.clone()).await,
            422,
            "validation_failed",
        );
        assert!(details.get("alerts").is_some(), "{body}: {details}");
    }
    let details = assert_error(
        &app.post_as(
            BATCH,
            Some(&service()),
            json!({"alerts":[alert_body("1","x")],"extra":1}),
        )
        .await,
        422,
        "validation_failed",
    );
    assert!(details.get("extra").is_some(), "{details}");

    // 1000 items, a body well over the single-trigger limit, are fine.
    let thousand = many(1000);
    assert!(
        serde_json::to_vec(&json!({"alerts": thousand}))
            .unwrap()
            .len()
            > 64 * 1024
    );
    let (status, body) = batch(&app, thousand).await;
    assert_eq!(status, 200, "{body}");
    let r = results(&body);
    assert_eq!(r.len(), 1000);
    assert!(r.iter().all(|(_, c)| *c));
    assert!(
        r.windows(2).all(|w| w[0].0 < w[1].0),
        "ids increase in item order"
    );
    let (_, count) = app
        .get_as(
            "/api/v1/alerts/unread-count",
            &format!("Bearer {}", jwt("1")),
        )
        .await;
    assert_eq!(count, json!({"count": 1000}));
}

#[actix_web::test]
async fn a_batch_body_over_1_mib_is_413() {
    let app = spawn_app().await;
    const LIMIT: usize = 1024 * 1024;
    // Exactly 1 MiB is read (and refused for the unknown field of item 0)...
    let sized = |size: usize| {
        let mut item = alert_body("1", "PAD");
        item["pad"] = json!("");
        let base = serde_json::to_vec(&json!({ "alerts": [item.clone()] }))
            .unwrap()
            .len();
        item["pad"] = json!("x".repeat(size - base));
        let bytes = serde_json::to_vec(&json!({ "alerts": [item] })).unwrap();
        assert_eq!(bytes.len(), size);
        bytes
    };
    let details = assert_error(
        &post_raw(&app, BATCH, Some(&service()), sized(LIMIT)).await,
        422,
        "validation_failed",
    );
    assert!(details["0"].get("pad").is_some(), "{details}");
    // ...one byte more is too large.
    assert_error(
        &post_raw(&app, BATCH, Some(&service()), sized(LIMIT + 1)).await,
        413,
        "payload_too_large",
    );
    let mut item = alert_body("1", "big");
    item["description"] = json!("d".repeat(3000));
    let alerts: Vec<Value> = (0..400)
        .map(|i| {
            let mut a = item.clone();
            a["breach_id"] = json!(format!("big{i}"));
            a
        })
        .collect();
    let body = serde_json::to_vec(&json!({ "alerts": alerts })).unwrap();
    assert!(body.len() > 1024 * 1024);
    assert_error(
        &post_raw(&app, BATCH, Some(&service()), body.clone()).await,
        413,
        "payload_too_large",
    );
    assert_error(
        &post_chunked(&app, BATCH, body).await,
        413,
        "payload_too_large",
    );
    assert!(stored(&app, "1").await.is_empty());
}

#[actix_web::test]
async fn batch_alerts_are_pushed_live_to_their_users() {
    let app = spawn_app().await;
    let mut one_a = app.connect("1").await;
    let mut one_b = app.connect("1").await;
    let mut two = app.connect("2").await;
    let (status, body) = batch(
        &app,
        vec![
            alert_body("1", "A"),
            alert_body("2", "B"),
            alert_body("1", "C"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let r = results(&body);
    for tab in [&mut one_a, &mut one_b] {
        for (id, breach) in [(r[0].0, "A"), (r[2].0, "C")] {
            let frame = tab.next_json().await;
            assert_live(&frame);
            assert_eq!(frame["message"]["alert_id"], id, "{frame}");
            assert_eq!(frame["message"]["breach_id"], breach, "{frame}");
            assert_eq!(frame["message"]["severity"], "HIGH", "{frame}");
            assert_eq!(frame["message"]["read"], false, "{frame}");
        }
    }
    let frame = two.next_json().await;
    assert_live(&frame);
    assert_eq!(frame["message"]["alert_id"], r[1].0, "{frame}");
    // No unread_count after them, and nothing of the other user's.
    one_a.expect_silence(SILENCE).await;
    app.assert_nothing_queued("1", &mut [&mut one_a, &mut one_b])
        .await;
    app.assert_nothing_queued("2", &mut [&mut two]).await;
}

#[actix_web::test]
async fn concurrent_retries_create_one_alert_and_push_it_once() {
    let app = spawn_app().await;
    let mut tab = app.connect("1").await;
    let body = alert_body("1", "RACE");
    let singles = (0..8).map(|_| app.trigger(body.clone()));
    let batches = (0..4).map(|_| batch(&app, vec![body.clone(), alert_body("1", "RACE2")]));
    let (singles, batches) = futures_util::future::join(
        futures_util::future::join_all(singles),
        futures_util::future::join_all(batches),
    )
    .await;

    let mut outcomes: Vec<(i64, bool)> = singles
        .iter()
        .map(|(status, body)| {
            let created = body["created"].as_bool().unwrap();
            assert_eq!(*status, if created { 201 } else { 200 }, "{body}");
            (body["alert"]["alert_id"].as_i64().unwrap(), created)
        })
        .collect();
    let mut race2 = Vec::new();
    for (status, body) in &batches {
        assert_eq!(*status, 200, "{body}");
        let r = results(body);
        outcomes.push(r[0]);
        race2.push(r[1]);
    }
    let id = outcomes[0].0;
    assert!(outcomes.iter().all(|(i, _)| *i == id), "{outcomes:?}");
    assert_eq!(
        outcomes.iter().filter(|(_, c)| *c).count(),
        1,
        "{outcomes:?}"
    );
    let id2 = race2[0].0;
    assert!(race2.iter().all(|(i, _)| *i == id2), "{race2:?}");
    assert_eq!(race2.iter().filter(|(_, c)| *c).count(), 1, "{race2:?}");

    // Each alert is pushed exactly once.
    let mut pushed = vec![
        tab.expect("breach_alert").await["message"]["alert_id"]
            .as_i64()
            .unwrap(),
        tab.expect("breach_alert").await["message"]["alert_id"]
            .as_i64()
            .unwrap(),
    ];
    pushed.sort_unstable();
    let mut want = vec![id, id2];
    want.sort_unstable();
    assert_eq!(pushed, want);
    app.assert_nothing_queued("1", &mut [&mut tab]).await;
    assert_eq!(stored(&app, "1").await.len(), 3);
}

/// `ALERTHUB_SERVICE_BIND`: a second listener with workers of its own,
/// serving the same API; a trigger there reaches the browsers' sessions on
/// the first, and a bad one gets the same contract errors.
#[actix_web::test]
async fn the_services_listener_serves_triggers_beside_the_browsers() {
    let app = spawn_app_with(&["--service-bind", "127.0.0.1:0"], |_| {}).await;
    let service = app.service_port.expect("a services port");
    assert_ne!(service, app.port);
    let base = format!("http://127.0.0.1:{service}");
    let mut tab = app.connect("1").await;

    let key = format!("Bearer {SERVICE_KEY}");
    let (status, body) = app
        .send(
            app.http
                .post(format!("{base}/api/v1/alerts"))
                .insert_header(("Authorization", key.as_str())),
            Some(alert_body("1", "via-service-port")),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let alert = tab.expect("breach_alert").await;
    assert_eq!(alert["message"]["breach_id"], "via-service-port");

    let (status, body) = app
        .send(
            app.http.post(format!("{base}/api/v1/alerts")),
            Some(alert_body("1", "x")),
        )
        .await;
    assert_error(&(status, body), 401, "unauthorized");
    let (status, _) = app.send(app.http.get(format!("{base}/health")), None).await;
    assert_eq!(status, 200);
}
