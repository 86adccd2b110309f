//! Contract §2, a user's own alerts over REST: the list (order, `limit`,
//! `before` paging, `unread`), the unread count, marking one or all read
//! (and the pushes that follow to every tab), user-token auth, and CORS.

use std::time::Duration;

use awc::http::Method;
use serde_json::{Value, json};

use alerthub_test_support::*;

const SILENCE: Duration = Duration::from_millis(300);

fn bearer(user: &str) -> String {
    format!("Bearer {}", jwt(user))
}

async fn list(app: &TestApp, user: &str, query: &str) -> Value {
    let (status, body) = app
        .get_as(&format!("/api/v1/alerts{query}"), &bearer(user))
        .await;
    assert_eq!(status, 200, "{query}: {body}");
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["alerts", "next_before", "unread_count"], "{body}");
    body
}

fn ids(page: &Value) -> Vec<i64> {
    page["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["alert_id"].as_i64().unwrap())
        .collect()
}

async fn unread(app: &TestApp, user: &str) -> i64 {
    let (status, body) = app
        .get_as("/api/v1/alerts/unread-count", &bearer(user))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    body["count"].as_i64().unwrap()
}

async fn mark_read(app: &TestApp, user: &str, id: &str) -> (u16, Value) {
    app.post_as(
        &format!("/api/v1/alerts/{id}/read"),
        Some(&bearer(user)),
        json!({}),
    )
    .await
}

async fn read_all(app: &TestApp, user: &str) -> (u16, Value) {
    app.post_as("/api/v1/alerts/read-all", Some(&bearer(user)), json!({}))
        .await
}

/// Ids newest first, as the list should return them.
fn desc(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids
}

// ------------------------------------------------------------------ list

#[actix_web::test]
async fn the_list_is_the_users_own_alerts_newest_first() {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for breach in ["A", "B", "C"] {
        let (status, body) = app.trigger(alert_body("1", breach)).await;
        assert_eq!(status, 201, "{body}");
        created.push(body["alert"].clone());
    }
    let theirs = app.create_alert("2", "A").await;

    let page = list(&app, "1", "").await;
    created.reverse();
    assert_eq!(page["alerts"], Value::Array(created));
    assert_eq!(page["next_before"], Value::Null);
    assert_eq!(ids(&list(&app, "2", "").await), [theirs]);
    assert_eq!(ids(&list(&app, "3", "").await), Vec::<i64>::new());
}

#[actix_web::test]
async fn the_default_limit_is_50() {
    let app = spawn_app().await;
    let all = desc(app.create_many("1", "m", 55).await);
    let first = list(&app, "1", "").await;
    assert_eq!(ids(&first), all[..50]);
    assert_eq!(first["next_before"], all[49]);
    let second = list(&app, "1", &format!("?before={}", all[49])).await;
    assert_eq!(ids(&second), all[50..]);
    assert_eq!(second["next_before"], Value::Null);
}

#[actix_web::test]
async fn paging_with_before_sees_every_alert_once() {
    let app = spawn_app().await;
    let all = desc(app.create_many("1", "p", 7).await);
    app.create_many("2", "p", 4).await;

    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut query = "?limit=3".to_owned();
    loop {
        let page = list(&app, "1", &query).await;
        pages.push(ids(&page).len());
        seen.extend(ids(&page));
        match page["next_before"].as_i64() {
            Some(before) => {
                assert_eq!(
                    Some(&before),
                    seen.last(),
                    "next_before is the page's last id"
                );
                query = format!("?limit=3&before={before}");
            }
            None => break,
        }
        assert!(pages.len() < 10, "paging does not end: {pages:?}");
    }
    assert_eq!(pages, [3, 3, 1]);
    assert_eq!(seen, all);

    // A last page that is exactly full also ends with null.
    let page = list(&app, "1", &format!("?limit=4&before={}", all[2])).await;
    assert_eq!(ids(&page), all[3..]);
    assert_eq!(page["next_before"], Value::Null);
    // limit=1 walks one at a time; the extremes of the range are accepted.
    let page = list(&app, "1", "?limit=1").await;
    assert_eq!(
        (ids(&page), page["next_before"].clone()),
        (vec![all[0]], json!(all[0]))
    );
    assert_eq!(ids(&list(&app, "1", "?limit=200").await), all);
}

#[actix_web::test]
async fn a_limit_outside_1_to_200_is_422_naming_limit() {
    let app = spawn_app().await;
    app.create_alert("1", "A").await;
    for bad in ["0", "201", "-1", "abc", "", "1.5"] {
        let response = app
            .get_as(&format!("/api/v1/alerts?limit={bad}"), &bearer("1"))
            .await;
        let details = assert_error(&response, 422, "validation_failed");
        assert!(details.get("limit").is_some(), "limit={bad}: {details}");
    }
    for bad in ["abc", "-3"] {
        let response = app
            .get_as(&format!("/api/v1/alerts?before={bad}"), &bearer("1"))
            .await;
        let details = assert_error(&response, 422, "validation_failed");
        assert!(details.get("before").is_some(), "before={bad}: {details}");
    }
}

#[actix_web::test]
async fn unread_true_lists_only_unread_alerts() {
    let app = spawn_app().await;
    let all = app.create_many("1", "u", 5).await;
    for id in [all[1], all[3]] {
        assert_eq!(mark_read(&app, "1", &id.to_string()).await.0, 200);
    }
    let page = list(&app, "1", "?unread=true").await;
    assert_eq!(ids(&page), [all[4], all[2], all[0]]);
    assert!(
        page["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["read"] == false)
    );
    assert_eq!(
        ids(&list(&app, "1", "?unread=false").await),
        desc(all.clone())
    );
    let all_page = list(&app, "1", "").await;
    let read_flags: Vec<bool> = all_page["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["read"].as_bool().unwrap())
        .collect();
    assert_eq!(read_flags, [false, true, false, true, false]);
    // The filter pages too.
    let page = list(&app, "1", "?unread=true&limit=2").await;
    assert_eq!(
        (ids(&page), page["next_before"].clone()),
        (vec![all[4], all[2]], json!(all[2]))
    );
    let page = list(
        &app,
        "1",
        &format!("?unread=true&limit=2&before={}", all[2]),
    )
    .await;
    assert_eq!(
        (ids(&page), page["next_before"].clone()),
        (vec![all[0]], Value::Null)
    );
}

#[actix_web::test]
async fn the_unread_count_is_per_user() {
    let app = spawn_app().await;
    assert_eq!(unread(&app, "1").await, 0);
    let ones = app.create_many("1", "c", 3).await;
    app.create_many("2", "c", 2).await;
    assert_eq!(unread(&app, "1").await, 3);
    assert_eq!(unread(&app, "2").await, 2);
    assert_eq!(mark_read(&app, "1", &ones[0].to_string()).await.0, 200);
    assert_eq!(unread(&app, "1").await, 2);
    assert_eq!(unread(&app, "2").await, 2);
}

// ------------------------------------------------------------- mark read

#[actix_web::test]
async fn marking_read_answers_the_alert_and_updates_every_tab() {
    let app = spawn_app().await;
    let mut tab1 = app.connect("1").await;
    let mut tab2 = app.connect("1").await;
    let mut other = app.connect("2").await;
    let (_, created) = app.trigger(alert_body("1", "A")).await;
    let id = created["alert"]["alert_id"].as_i64().unwrap();
    app.create_alert("1", "B").await;
    for tab in [&mut tab1, &mut tab2] {
        tab.expect("breach_alert").await;
        tab.expect("breach_alert").await;
    }

    let before = chrono::Utc::now();
    let (status, body) = mark_read(&app, "1", &id.to_string()).await;
    assert_eq!(status, 200, "{body}");
    let mut expected = created["alert"].clone();
    expected["read"] = json!(true);
    assert_eq!(body, json!({ "alert": expected }));

    for tab in [&mut tab1, &mut tab2] {
        let update = tab.expect("alert_update").await;
        let message = &update["message"];
        assert_eq!(message["alert_id"], id, "{update}");
        assert_eq!(message["update_type"], "marked_read", "{update}");
        let ts = message["timestamp"].as_str().unwrap();
        assert!(ts.ends_with('Z'), "{update}");
        let ts = chrono::DateTime::parse_from_rfc3339(ts).unwrap();
        assert!(ts >= before - chrono::Duration::seconds(1), "{update}");
        let count = tab.expect("unread_count").await;
        assert_eq!(count["count"], 1, "{count}");
    }
    tab1.expect_silence(SILENCE).await;
    app.assert_nothing_queued("1", &mut [&mut tab1, &mut tab2])
        .await;
    app.assert_nothing_queued("2", &mut [&mut other]).await;
    assert_eq!(unread(&app, "1").await, 2, "B and the sentinel");
}

#[actix_web::test]
async fn marking_twice_is_harmless() {
    let app = spawn_app().await;
    let id = app.create_alert("1", "A").await;
    app.create_alert("1", "B").await;
    for _ in 0..2 {
        let (status, body) = mark_read(&app, "1", &id.to_string()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["alert"]["read"], true);
        assert_eq!(body["alert"]["alert_id"], id);
        assert_eq!(unread(&app, "1").await, 1);
    }
}

#[actix_web::test]
async fn another_users_alert_or_an_unknown_id_is_404() {
    let app = spawn_app().await;
    let mut owner = app.connect("2").await;
    let mut intruder = app.connect("1").await;
    let theirs = app.create_alert("2", "A").await;
    owner.expect("breach_alert").await;

    for id in [
        theirs.to_string(),
        "999999".into(),
        "0".into(),
        "-1".into(),
        "abc".into(),
    ] {
        let response = mark_read(&app, "1", &id).await;
        assert_error(&response, 404, "not_found");
    }
    // The alert stays unread and nobody was told anything.
    assert_eq!(unread(&app, "2").await, 1);
    assert_eq!(list(&app, "2", "").await["alerts"][0]["read"], false);
    app.assert_nothing_queued("2", &mut [&mut owner]).await;
    app.assert_nothing_queued("1", &mut [&mut intruder]).await;
}

#[actix_web::test]
async fn read_all_marks_everything_and_updates_every_tab() {
    let app = spawn_app().await;
    let mut tab1 = app.connect("1").await;
    let mut tab2 = app.connect("1").await;
    let mut other = app.connect("2").await;
    let ids = app.create_many("1", "r", 3).await;
    app.create_alert("2", "keep").await;
    for tab in [&mut tab1, &mut tab2] {
        for _ in 0..3 {
            tab.expect("breach_alert").await;
        }
    }
    other.expect("breach_alert").await;
    assert_eq!(mark_read(&app, "1", &ids[0].to_string()).await.0, 200);
    for tab in [&mut tab1, &mut tab2] {
        tab.expect("alert_update").await;
        assert_eq!(tab.expect("unread_count").await["count"], 2);
    }

    let (status, body) = read_all(&app, "1").await;
    assert_eq!((status, body), (200, json!({"marked": 2})));
    for tab in [&mut tab1, &mut tab2] {
        let update = tab.expect("alert_update").await;
        let message = &update["message"];
        assert_eq!(message.get("alert_id"), Some(&Value::Null), "{update}");
        assert_eq!(message["update_type"], "marked_all_read", "{update}");
        assert!(
            message["timestamp"].as_str().unwrap().ends_with('Z'),
            "{update}"
        );
        let count = tab.expect("unread_count").await;
        assert_eq!(count["count"], 0, "{count}");
    }
    tab1.expect_silence(SILENCE).await;
    assert_eq!(unread(&app, "1").await, 0);
    assert!(
        list(&app, "1", "").await["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["read"] == true)
    );
    // The other user's alerts are untouched and they heard nothing.
    assert_eq!(unread(&app, "2").await, 1);
    app.assert_nothing_queued("2", &mut [&mut other]).await;
    // Again: nothing left to mark.
    let (status, body) = read_all(&app, "1").await;
    assert_eq!((status, body), (200, json!({"marked": 0})));
}

// ------------------------------------------------------------------ auth

#[actix_web::test]
async fn every_endpoint_needs_a_valid_user_token() {
    let app = spawn_app().await;
    let id = app.create_alert("1", "A").await;
    let revoked = alerthub::storage::create_token(&mut app.storage(), "1").unwrap();
    assert!(alerthub::storage::revoke_token(&mut app.storage(), &revoked).unwrap());
    let bad_auth = [
        "Bearer garbage".to_owned(),
        "Token ahk_unknown".to_owned(),
        format!("Token {revoked}"),
        format!(
            "Bearer {}",
            sign_jwt(json!({"user_id":"1","exp": now_secs() - 5}), JWT_SECRET)
        ),
        format!(
            "Bearer {}",
            sign_jwt(
                json!({"user_id":"1","exp": now_secs() + 600}),
                "wrong-secret"
            )
        ),
        format!(
            "Bearer {}",
            sign_jwt(
                json!({"user_id":"1","exp": now_secs() + 600,"token_type":"refresh"}),
                JWT_SECRET
            )
        ),
        "Bearer ".to_owned(),
    ];
    let read_path = format!("/api/v1/alerts/{id}/read");
    let endpoints = [
        (Method::GET, "/api/v1/alerts"),
        (Method::GET, "/api/v1/alerts/unread-count"),
        (Method::POST, read_path.as_str()),
        (Method::POST, "/api/v1/alerts/read-all"),
    ];
    for (method, path) in &endpoints {
        let response = app
            .send(app.http.request(method.clone(), app.url(path)), None)
            .await;
        assert_error(&response, 401, "unauthorized");
        for auth in &bad_auth {
            let req = app
                .http
                .request(method.clone(), app.url(path))
                .insert_header(("Authorization", auth.as_str()));
            let response = app.send(req, None).await;
            assert_error(&response, 401, "unauthorized");
        }
    }
    // Nothing was marked by any of them.
    assert_eq!(unread(&app, "1").await, 1);
}

#[actix_web::test]
async fn opaque_tokens_and_jwts_both_work_and_see_only_their_user() {
    let app = spawn_app().await;
    let mine = app.create_alert("1", "A").await;
    let theirs = app.create_alert("2", "A").await;
    let opaque = alerthub::storage::create_token(&mut app.storage(), "2").unwrap();
    let token = format!("Token {opaque}");

    let (status, body) = app.get_as("/api/v1/alerts", &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body), [theirs]);
    let (status, body) = app.get_as("/api/v1/alerts/unread-count", &token).await;
    assert_eq!((status, body), (200, json!({"count": 1})));
    // The opaque user cannot mark user 1's alert, but can mark their own.
    let path = |id: i64| format!("/api/v1/alerts/{id}/read");
    assert_error(
        &app.post_as(&path(mine), Some(&token), json!({})).await,
        404,
        "not_found",
    );
    let (status, body) = app.post_as(&path(theirs), Some(&token), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["alert"]["read"], true);
    let (status, body) = app
        .post_as("/api/v1/alerts/read-all", Some(&token), json!({}))
        .await;
    assert_eq!((status, body), (200, json!({"marked": 0})));

    let (status, body) = app.get_as("/api/v1/alerts", &bearer("1")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body), [mine]);
    assert_eq!(body["alerts"][0]["read"], false);
    // A numeric user claim names the same user as its decimal string.
    let numeric = sign_jwt(
        json!({"user_id": 1, "exp": now_secs() + 600, "token_type": "access"}),
        JWT_SECRET,
    );
    let (status, body) = app
        .get_as("/api/v1/alerts", &format!("Bearer {numeric}"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body), [mine]);
}

// ------------------------------------------------------------------ CORS

async fn cors_request(
    app: &TestApp,
    method: Method,
    path: &str,
    origin: &str,
    preflight: bool,
) -> awc::ClientResponse<impl futures_util::Stream> {
    let mut req = app
        .http
        .request(method, app.url(path))
        .insert_header(("Origin", origin));
    if preflight {
        req = req
            .insert_header(("Access-Control-Request-Method", "POST"))
            .insert_header((
                "Access-Control-Request-Headers",
                "authorization,content-type",
            ));
    } else {
        req = req.insert_header(("Authorization", bearer("1")));
    }
    req.send().await.expect("request reaches the server")
}

fn header<S>(response: &awc::ClientResponse<S>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

fn lower_list(value: Option<String>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

#[actix_web::test]
async fn allowed_origins_get_cors_answers_and_others_get_none() {
    let app = spawn_app_with(&["--allowed-origins", "https://app.example"], |_| {}).await;
    let good = "https://app.example";

    for path in [
        "/api/v1/alerts",
        "/api/v1/alerts/read-all",
        "/api/v1/alerts/unread-count",
    ] {
        let pre = cors_request(&app, Method::OPTIONS, path, good, true).await;
        assert!(pre.status().is_success(), "{path}: {}", pre.status());
        assert_eq!(
            header(&pre, "access-control-allow-origin").as_deref(),
            Some(good),
            "{path}"
        );
        let methods = lower_list(header(&pre, "access-control-allow-methods"));
        assert!(
            methods.contains(&"get".to_owned()) && methods.contains(&"post".to_owned()),
            "{path}: {methods:?}"
        );
        let headers = lower_list(header(&pre, "access-control-allow-headers"));
        assert!(
            headers.contains(&"authorization".to_owned())
                && headers.contains(&"content-type".to_owned()),
            "{path}: {headers:?}"
        );
    }
    // The actual request from the allowed origin is answered with CORS too.
    let res = cors_request(
        &app,
        Method::GET,
        "/api/v1/alerts/unread-count",
        good,
        false,
    )
    .await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        header(&res, "access-control-allow-origin").as_deref(),
        Some(good)
    );

    // Another origin gets no CORS headers, preflight or not.
    let evil = "https://evil.example";
    let pre = cors_request(&app, Method::OPTIONS, "/api/v1/alerts", evil, true).await;
    assert_eq!(header(&pre, "access-control-allow-origin"), None);
    assert_eq!(header(&pre, "access-control-allow-methods"), None);
    assert_eq!(header(&pre, "access-control-allow-headers"), None);
    let res = cors_request(
        &app,
        Method::GET,
        "/api/v1/alerts/unread-count",
        evil,
        false,
    )
    .await;
    assert_eq!(header(&res, "access-control-allow-origin"), None);
    // A look-alike of the allowed origin is another origin.
    for near in [
        "http://app.example",
        "https://app.example.evil",
        "https://APP.example:444",
    ] {
        let pre = cors_request(&app, Method::OPTIONS, "/api/v1/alerts", near, true).await;
        assert_eq!(header(&pre, "access-control-allow-origin"), None, "{near}");
    }
}

#[actix_web::test]
async fn errors_are_readable_by_allowed_origins() {
    let app = spawn_app_with(&["--allowed-origins", "https://app.example"], |_| {}).await;
    let good = "https://app.example";
    let cases = [
        ("/api/v1/alerts/unread-count", None, 401),
        (
            "/api/v1/alerts/unread-count",
            Some("Bearer garbage".to_owned()),
            401,
        ),
        ("/api/v1/alerts?limit=0", Some(bearer("1")), 422),
    ];
    for (path, auth, status) in cases {
        let mut req = app.http.get(app.url(path)).insert_header(("Origin", good));
        if let Some(auth) = &auth {
            req = req.insert_header(("Authorization", auth.as_str()));
        }
        let res = req.send().await.expect("request reaches the server");
        assert_eq!(res.status().as_u16(), status, "{path} {auth:?}");
        assert_eq!(
            header(&res, "access-control-allow-origin").as_deref(),
            Some(good),
            "{path} {auth:?}"
        );
    }
}

/// A preflight the CORS policy refuses: no CORS headers, and if the answer
/// is an error it is the contract's error JSON like every other error.
#[actix_web::test]
async fn a_refused_preflight_gets_no_cors_headers_and_the_error_shape() {
    let app = spawn_app_with(&["--allowed-origins", "https://app.example"], |_| {}).await;
    let cases = [
        ("https://evil.example", "POST", "authorization,content-type"),
        ("https://app.example", "DELETE", "authorization"),
        ("https://app.example", "POST", "x-custom"),
    ];
    for (origin, method, headers) in cases {
        let mut res = app
            .http
            .request(Method::OPTIONS, app.url("/api/v1/alerts"))
            .insert_header(("Origin", origin))
            .insert_header(("Access-Control-Request-Method", method))
            .insert_header(("Access-Control-Request-Headers", headers))
            .send()
            .await
            .expect("request reaches the server");
        let what = format!("{origin} {method} {headers}");
        if origin != "https://app.example" {
            assert_eq!(header(&res, "access-control-allow-origin"), None, "{what}");
        }
        let status = res.status().as_u16();
        let bytes = res.body().await.unwrap();
        if status >= 400 {
            let body: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!(
                    "{what}: {status} with a body that is not the error JSON: {:?}",
                    String::from_utf8_lossy(&bytes)
                )
            });
            let code = body["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert_error(&(status, body), status, &code);
        }
    }
}

#[actix_web::test]
async fn without_configured_origins_any_origin_is_allowed() {
    let app = spawn_app().await;
    for origin in ["https://anything.example", "http://localhost:3000"] {
        let pre = cors_request(&app, Method::OPTIONS, "/api/v1/alerts", origin, true).await;
        assert!(pre.status().is_success(), "{}", pre.status());
        let allowed = header(&pre, "access-control-allow-origin");
        assert!(
            allowed.as_deref() == Some(origin) || allowed.as_deref() == Some("*"),
            "{origin}: {allowed:?}"
        );
        let res = cors_request(
            &app,
            Method::GET,
            "/api/v1/alerts/unread-count",
            origin,
            false,
        )
        .await;
        assert_eq!(res.status().as_u16(), 200);
        let allowed = header(&res, "access-control-allow-origin");
        assert!(
            allowed.as_deref() == Some(origin) || allowed.as_deref() == Some("*"),
            "{origin}: {allowed:?}"
        );
    }
}
