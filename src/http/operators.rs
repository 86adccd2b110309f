//! `/health`, `/ready` and `/metrics` for operators and load balancers.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::state::AppState;
use crate::actors::messages::{Ping, Stats};
use crate::models::time::now_ms;

/// How long a health check waits for the database before calling it down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The shared body of `/health` and `/ready`, and whether all checks pass.
async fn report(state: &AppState) -> (serde_json::Value, bool) {
    let database_ok = matches!(
        tokio::time::timeout(CHECK_TIMEOUT, state.db.send(Ping)).await,
        Ok(Ok(Ok(())))
    );
    let (connections, users) = state.registry.send(Stats).await.unwrap_or((0, 0));
    let redis = match &state.redis {
        None => "disabled",
        Some(redis) if redis.health.subscriber_up() && redis.ping().await => "ok",
        Some(_) => "down",
    };
    // Web Push is reported, not counted against health: a node that cannot
    // push still serves triggers and sockets.
    let push = match &state.push.vapid {
        None => "disabled",
        Some(_) => {
            let within = state.push.silence_allowed;
            if state
                .push
                .health
                .is_polling(now_ms(), within.as_millis() as i64)
            {
                "ok"
            } else {
                "down"
            }
        }
    };
    let healthy = database_ok && redis != "down";
    let body = json!({
        "status": if healthy { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "node_id": state.node_id,
        "uptime_seconds": state.started.elapsed().as_secs(),
        "connections": connections,
        "users": users,
        "checks": { "database": if database_ok { "ok" } else { "down" }, "redis": redis, "push": push },
    });
    (body, healthy)
}

pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(report(&state).await.0)
}

pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    match report(&state).await {
        (body, true) => HttpResponse::Ok().json(body),
        // Contract §8: a 503 carries Retry-After.
        (body, false) => HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, "1"))
            .json(body),
    }
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}
