//! `/health`, `/ready` and `/metrics` for operators and load balancers.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::state::AppState;
use crate::actors::messages::{Ping, Stats};
use crate::redis::RedisContext;
use crate::redis::backlog::ingest_backlog;

/// How long a health check waits for the database before calling it down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether the database answers a query within `CHECK_TIMEOUT`.
async fn database_ok(state: &AppState) -> bool {
    matches!(
        tokio::time::timeout(CHECK_TIMEOUT, state.db.send(Ping)).await,
        Ok(Ok(Ok(())))
    )
}

/// Whether this node's pub/sub connection is up and Redis answers PING.
async fn redis_ok(redis: &RedisContext) -> bool {
    redis.health.subscriber_up() && redis.ping().await
}

/// The shared body of `/health` and `/ready`, and whether all checks pass.
async fn report(state: &AppState) -> (serde_json::Value, bool) {
    let database_ok = database_ok(state).await;
    let (connections, users) = state.registry.send(Stats).await.unwrap_or((0, 0));
    let redis = match &state.redis {
        None => "disabled",
        Some(redis) if redis_ok(redis).await => "ok",
        Some(_) => "down",
    };
    let healthy = database_ok && redis != "down";
    let body = json!({
        "status": if healthy { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "node_id": state.node_id,
        "uptime_seconds": state.started.elapsed().as_secs(),
        "connections": connections,
        "users": users,
        "checks": { "database": if database_ok { "ok" } else { "down" }, "redis": redis },
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

/// The text exposition's media type.
const METRICS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How recent the outcome of the node's own storage calls must be to stand
/// for the database's state; older, and the scrape checks with a query.
const RECENT_STORAGE_CALL: Duration = Duration::from_secs(10);

/// Sets the gauges that describe the node's dependencies, as they are now
/// (each check bounded by 2 s, all at once). The database's state comes
/// from the node's own storage calls of the last 10 s, else from a query.
async fn refresh_node_gauges(state: &AppState) {
    let node = &state.metrics.node;
    let redis = async {
        if let (Some(ctx), Some(gauges)) = (&state.redis, &node.redis) {
            let (up, backlog) = tokio::join!(redis_ok(ctx), ingest_backlog(ctx));
            gauges.up.set(i64::from(up));
            if let Some(backlog) = backlog {
                gauges.set_backlog(backlog);
            }
        }
    };
    let database = async {
        match state.db_health.recent(RECENT_STORAGE_CALL) {
            Some(up) => up,
            None => database_ok(state).await,
        }
    };
    let (database_ok, ()) = tokio::join!(database, redis);
    node.database_up.set(i64::from(database_ok));
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    refresh_node_gauges(&state).await;
    HttpResponse::Ok()
        .content_type(METRICS_TYPE)
        .body(state.metrics.render())
}

/// `HEAD /metrics`: what a GET would answer, without the body and without
/// running the checks (a reachability probe must stay cheap).
pub async fn metrics_head() -> HttpResponse {
    HttpResponse::Ok().content_type(METRICS_TYPE).finish()
}
