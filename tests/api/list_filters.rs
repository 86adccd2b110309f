//! Contract §8 on the list: `severity=HIGH,CRITICAL` (a comma list, any
//! case, bad values refused with `details`) and `unread_count` beside
//! `alerts` and `next_before` — the user's total, whatever the filter.

use serde_json::{Value, json};

use alerthub_test_support::*;

fn bearer(user: &str) -> String {
    format!("Bearer {}", jwt(user))
}

fn alert(user: &str, breach: &str, severity: &str) -> Value {
    json!({"user_id": user, "breach_id": breach, "title": "T", "severity": severity,
           "confidence": 0.5})
}

async fn page(app: &TestApp, user: &str, query: &str) -> Value {
    let (status, body) = app
        .get_as(&format!("/api/v1/alerts{query}"), &bearer(user))
        .await;
    assert_eq!(status, 200, "{query}: {body}");
    body
}

fn severities(page: &Value) -> Vec<String> {
    page["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["severity"].as_str().unwrap().to_owned())
        .collect()
}

/// LOW, MEDIUM, HIGH, CRITICAL, LOW, HIGH for `user`; returns their ids.
async fn mixed(app: &TestApp, user: &str) -> Vec<i64> {
    let kinds = ["LOW", "MEDIUM", "HIGH", "CRITICAL", "LOW", "HIGH"];
    let alerts = kinds
        .iter()
        .enumerate()
        .map(|(i, s)| alert(user, &format!("B{i}"), s))
        .collect();
    app.post_batch(alerts).await
}

#[actix_web::test]
async fn the_severity_filter_keeps_only_the_listed_severities_newest_first() {
    let app = spawn_app().await;
    let ids = mixed(&app, "sev1").await;
    app.post_batch(vec![alert("sev_other", "X", "HIGH")]).await;

    let high = page(&app, "sev1", "?severity=HIGH").await;
    assert_eq!(severities(&high), ["HIGH", "HIGH"]);
    let got: Vec<i64> = high["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["alert_id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, [ids[5], ids[2]]);

    let two = page(&app, "sev1", "?severity=high,Critical").await;
    assert_eq!(severities(&two), ["HIGH", "CRITICAL", "HIGH"]);
    // Repeating the parameter adds to the list.
    let repeated = page(&app, "sev1", "?severity=LOW&severity=MEDIUM").await;
    assert_eq!(severities(&repeated), ["LOW", "MEDIUM", "LOW"]);
    let all = page(&app, "sev1", "").await;
    assert_eq!(all["alerts"].as_array().unwrap().len(), 6);
}

#[actix_web::test]
async fn the_filter_pages_with_before_and_combines_with_unread() {
    let app = spawn_app().await;
    let ids = mixed(&app, "sev2").await;
    let first = page(&app, "sev2", "?severity=LOW,HIGH&limit=2").await;
    assert_eq!(severities(&first), ["HIGH", "LOW"]);
    assert_eq!(first["next_before"], ids[4]);
    let second = page(
        &app,
        "sev2",
        &format!("?severity=LOW,HIGH&limit=2&before={}", ids[4]),
    )
    .await;
    assert_eq!(severities(&second), ["HIGH", "LOW"]);
    assert_eq!(second["alerts"][1]["alert_id"], ids[0]);
    assert_eq!(second["next_before"], Value::Null);

    let (status, body) = app
        .post_as(
            &format!("/api/v1/alerts/{}/read", ids[5]),
            Some(&bearer("sev2")),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let unread_high = page(&app, "sev2", "?severity=HIGH&unread=true").await;
    assert_eq!(unread_high["alerts"][0]["alert_id"], ids[2]);
    assert_eq!(unread_high["alerts"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn unread_count_is_the_users_total_whatever_the_filter() {
    let app = spawn_app().await;
    let ids = mixed(&app, "sev3").await;
    app.post_batch(vec![alert("sev3_other", "X", "HIGH")]).await;
    let (status, body) = app
        .post_as(
            &format!("/api/v1/alerts/{}/read", ids[3]),
            Some(&bearer("sev3")),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    for query in [
        "",
        "?severity=CRITICAL",
        "?unread=true&limit=1",
        "?severity=LOW&before=1",
    ] {
        let body = page(&app, "sev3", query).await;
        assert_eq!(body["unread_count"], 5, "{query}: {body}");
    }
    let (_, count) = app
        .get_as("/api/v1/alerts/unread-count", &bearer("sev3"))
        .await;
    assert_eq!(count["count"], 5);
    let (status, body) = app
        .post_as("/api/v1/alerts/read-all", Some(&bearer("sev3")), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(page(&app, "sev3", "").await["unread_count"], 0);
    assert_eq!(page(&app, "nobody_sev", "").await["unread_count"], 0);
}

#[actix_web::test]
async fn a_bad_severity_is_a_422_naming_the_parameter() {
    let app = spawn_app().await;
    for query in [
        "severity=",
        "severity=urgent",
        "severity=HIGH,",
        "severity=HIGH,,LOW",
        "severity=%20HIGH",
        "severity=HIGH;LOW",
        "severity=HIGH&severity=nope",
    ] {
        let response = app
            .get_as(&format!("/api/v1/alerts?{query}"), &bearer("sev4"))
            .await;
        let details = assert_error(&response, 422, "validation_failed");
        assert!(
            details["severity"]
                .as_str()
                .is_some_and(|why| why.contains("LOW, MEDIUM, HIGH, CRITICAL")),
            "{query}: {details}"
        );
    }
    // Every bad parameter is named at once.
    let response = app
        .get_as("/api/v1/alerts?severity=x&limit=0", &bearer("sev4"))
        .await;
    let details = assert_error(&response, 422, "validation_failed");
    let keys: Vec<&String> = details.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["limit", "severity"]);
}
