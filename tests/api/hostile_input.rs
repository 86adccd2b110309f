//! Issue 9, hostile and broken peers: input no backend can store, input the
//! database refuses, bad keys and secrets at start-up, bodies that stall,
//! requests the HTTP parser refuses, and expired-not-yet-valid tokens. Each
//! runs against the real server (raw TCP where the bytes must be exact), on
//! SQLite, and on PostgreSQL when `ALERTHUB_TEST_DATABASE_URL` is set.

use serde_json::{Value, json};

use crate::helpers::*;

const TRIGGER: &str = "/api/v1/alerts";
const BATCH: &str = "/api/v1/alerts/batch";

fn service() -> String {
    format!("Bearer {SERVICE_KEY}")
}

/// The fields of a trigger that end up stored as text.
const TEXT_FIELDS: [&str; 4] = ["breach_id", "title", "description", "source"];

/// A valid trigger with a NUL inside `field`.
fn with_nul(user: &str, breach: &str, field: &str) -> Value {
    let mut body = alert_body(user, breach);
    body[field] = json!(format!("{field}\u{0}tail"));
    body
}

/// How many alerts `user` has stored, as the user sees it.
async fn stored_count(app: &TestApp, user: &str) -> usize {
    let (status, body) = app
        .get_as("/api/v1/alerts?limit=200", &format!("Bearer {}", jwt(user)))
        .await;
    assert_eq!(status, 200, "{body}");
    body["alerts"].as_array().unwrap().len()
}

// ------------------------------------------------------------- NUL bytes

#[actix_web::test]
async fn nul_in_any_text_field_is_422_naming_the_field() {
    let app = spawn_app().await;
    for field in TEXT_FIELDS {
        let details = assert_error(
            &app.trigger(with_nul("1", &format!("NUL-{field}"), field))
                .await,
            422,
            "validation_failed",
        );
        assert_eq!(
            details.as_object().unwrap().keys().collect::<Vec<_>>(),
            [field],
            "{details}"
        );
        assert!(
            details[field].as_str().unwrap().contains("NUL"),
            "{details}"
        );
    }
    // The user id, the severity and the timestamp are refused by their own
    // patterns; a NUL in an unknown field's name is still an unknown field.
    let mut body = alert_body("1", "NUL-other");
    body["user_id"] = json!("1\u{0}");
    body["severity"] = json!("high\u{0}");
    body["detected_at"] = json!("2025-11-25T12:00:00Z\u{0}");
    body["x\u{0}"] = json!(1);
    let details = assert_error(&app.trigger(body).await, 422, "validation_failed");
    let mut keys: Vec<&String> = details.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["detected_at", "severity", "user_id", "x\u{0}"],
        "{details}"
    );
    assert_eq!(stored_count(&app, "1").await, 0);
    // The server is unharmed.
    app.create_alert("1", "after-nul").await;
}

#[actix_web::test]
async fn nul_in_a_batch_item_is_422_by_index_and_stores_nothing() {
    let app = spawn_app().await;
    let items = vec![
        alert_body("1", "B0"),
        with_nul("1", "B1", "title"),
        alert_body("1", "B2"),
        with_nul("1", "B3", "source"),
    ];
    let details = assert_error(
        &app.post_as(BATCH, Some(&service()), json!({ "alerts": items }))
            .await,
        422,
        "validation_failed",
    );
    assert_eq!(
        details,
        json!({"1": {"title": details["1"]["title"]}, "3": {"source": details["3"]["source"]}})
    );
    assert!(details["1"]["title"].as_str().unwrap().contains("NUL"));
    assert_eq!(stored_count(&app, "1").await, 0);
}

#[actix_web::test]
async fn ninety_nine_valid_triggers_beside_one_with_nul_all_get_201() {
    let app = spawn_app().await;
    let bodies = (0..100).map(|i| {
        if i == 50 {
            with_nul("7", "CROWD-50", "description")
        } else {
            alert_body("7", &format!("CROWD-{i}"))
        }
    });
    let service = service();
    let answers = futures_util::future::join_all(
        bodies.map(|body| app.post_as(TRIGGER, Some(&service), body)),
    )
    .await;
    for (i, answer) in answers.iter().enumerate() {
        if i == 50 {
            assert_error(answer, 422, "validation_failed");
        } else {
            assert_eq!(answer.0, 201, "trigger {i}: {}", answer.1);
        }
    }
    assert_eq!(stored_count(&app, "7").await, 99);
}
