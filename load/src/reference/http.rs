//! The reference's HTTP side on hyper 1: the WebSocket upgrade (answered
//! here, then handed to [`super::session`] once hyper lets go of the
//! connection and its buffers), the two trigger endpoints with the service
//! key, and `/health`. Errors have the contract's shape.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::alerts::{AlertIn, BatchIn, alert_frame, now_rfc3339};
use super::auth::{Verifier, valid_user_id};
use super::session;
use super::store::Store;

pub struct App {
    pub store: Arc<Store>,
    /// The heartbeat's tick, for every session.
    pub beat: tokio::sync::watch::Receiver<()>,
    pub verifier: Verifier,
    pub service_keys: Vec<String>,
    pub started: Instant,
}

type Resp = Response<Full<Bytes>>;

fn json_response(status: StatusCode, body: &Value) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn error(status: StatusCode, code: &str, message: &str, details: Value) -> Resp {
    json_response(
        status,
        &json!({"error": {"code": code, "message": message, "details": details}}),
    )
}

/// The value of `name` in a query string (no percent-decoding: tokens and
/// ids are URL-safe).
pub fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

/// `/ws/breach-alerts/{user}/` (trailing slash optional) → the user.
pub fn ws_user(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/ws/breach-alerts/")?;
    let user = rest.strip_suffix('/').unwrap_or(rest);
    (!user.contains('/')).then_some(user)
}

pub async fn handle(app: Arc<App>, req: Request<Incoming>) -> Result<Resp, Infallible> {
    let path = req.uri().path().to_owned();
    let resp = match (req.method(), path.as_str()) {
        (&Method::GET, "/health") | (&Method::GET, "/ready") => json_response(
            StatusCode::OK,
            &json!({
                "status": "ok",
                "version": env!("CARGO_PKG_VERSION"),
                "node_id": "reference",
                "uptime_seconds": app.started.elapsed().as_secs(),
                "connections": app.store.connections(),
                "users": app.store.users_online(),
                "checks": {"database": "ok", "redis": "disabled"},
            }),
        ),
        (&Method::POST, "/api/v1/alerts") => trigger(&app, req, false).await,
        (&Method::POST, "/api/v1/alerts/batch") => trigger(&app, req, true).await,
        (&Method::GET, p) if p.starts_with("/ws/breach-alerts/") => upgrade(&app, req),
        _ => error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such endpoint",
            Value::Null,
        ),
    };
    Ok(resp)
}

fn upgrade(app: &Arc<App>, mut req: Request<Incoming>) -> Resp {
    let Some(user) = ws_user(req.uri().path())
        .filter(|u| valid_user_id(u))
        .map(str::to_owned)
    else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such user",
            Value::Null,
        );
    };
    let headers = req.headers();
    let is_upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let Some(key) = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .filter(|_| is_upgrade)
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_message",
            "a WebSocket upgrade is expected",
            Value::Null,
        );
    };
    let accept = derive_accept_key(key.as_bytes());
    let query = req.uri().query().unwrap_or("");
    let credential = query_param(query, "token").map(str::to_owned).or_else(|| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    let since = query_param(query, "since").and_then(|s| s.parse().ok());
    let who = app
        .verifier
        .verify(credential.as_deref().unwrap_or(""), &user);
    let on_upgrade = hyper::upgrade::on(&mut req);
    let (store, beat) = (app.store.clone(), app.beat.clone());
    tokio::spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            session::run(store, beat, upgraded, who, since).await;
        }
    });
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    r
}

async fn trigger(app: &App, req: Request<Incoming>, batch: bool) -> Resp {
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match auth {
        Some(key) if app.service_keys.iter().any(|k| k == key) => {}
        Some(_) => {
            return error(
                StatusCode::FORBIDDEN,
                "forbidden",
                "not a service key",
                Value::Null,
            );
        }
        None => {
            return error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a service key is required",
                Value::Null,
            );
        }
    }
    let limit = if batch { 1 << 20 } else { 64 << 10 };
    let body = match Limited::new(req.into_body(), limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "body too large",
                Value::Null,
            );
        }
    };
    let now = now_rfc3339();
    if !batch {
        let mut alert: AlertIn = match serde_json::from_slice(&body) {
            Ok(a) => a,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_json",
                    &e.to_string(),
                    Value::Null,
                );
            }
        };
        if let Err(p) = alert.validate() {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "invalid alert",
                json!(p),
            );
        }
        let stored = store_one(app, &alert, &now);
        let message: Value =
            serde_json::from_str(&alert.message(stored.alert_id, &now)).unwrap_or(Value::Null);
        let status = if stored.created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        return json_response(
            status,
            &json!({"alert": message, "created": stored.created}),
        );
    }
    let mut batch: BatchIn = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                &e.to_string(),
                Value::Null,
            );
        }
    };
    if !(1..=1000).contains(&batch.alerts.len()) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "1 to 1,000 alerts",
            json!({"alerts": "1 to 1,000 items"}),
        );
    }
    let mut details = serde_json::Map::new();
    for (i, a) in batch.alerts.iter_mut().enumerate() {
        if let Err(p) = a.validate() {
            details.insert(i.to_string(), json!(p));
        }
    }
    if !details.is_empty() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "invalid alerts",
            Value::Object(details),
        );
    }
    let results: Vec<Value> = batch
        .alerts
        .iter()
        .map(|a| {
            let s = store_one(app, a, &now);
            json!({"alert_id": s.alert_id, "created": s.created})
        })
        .collect();
    json_response(StatusCode::OK, &json!({"results": results}))
}

fn store_one(app: &App, a: &AlertIn, now: &str) -> super::store::Stored {
    app.store.trigger(
        &a.user_id,
        &a.breach_id,
        |id| a.message(id, now),
        |m| alert_frame(m, false, now),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_path_parse() {
        assert_eq!(query_param("token=abc&since=5", "since"), Some("5"));
        assert_eq!(query_param("token=abc&since=5", "token"), Some("abc"));
        assert_eq!(query_param("sincex=1", "since"), None);
        assert_eq!(query_param("", "token"), None);
        assert_eq!(ws_user("/ws/breach-alerts/u_1/"), Some("u_1"));
        assert_eq!(ws_user("/ws/breach-alerts/u_1"), Some("u_1"));
        assert_eq!(ws_user("/ws/breach-alerts/a/b/"), None);
        assert_eq!(ws_user("/ws/other/u/"), None);
    }
}
