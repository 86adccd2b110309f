//! `/health`, `/ready` and `/metrics` for operators and load balancers.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::state::AppState;
use crate::actors::messages::{Ping, Stats};

/// The body of `/health` and `/ready`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthReport {
    /// `ok` when every check passes.
    pub status: Status,
    pub version: &'static str,
    pub node_id: String,
    pub uptime_seconds: u64,
    /// Open WebSocket sessions on this node.
    pub connections: usize,
    /// Users with at least one session on this node.
    pub users: usize,
    pub checks: Checks,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Degraded,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Checks {
    pub database: Check,
    pub redis: Check,
}

/// One dependency: `disabled` is Redis in single-node mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Check {
    Ok,
    Down,
    Disabled,
}

/// How long a health check waits for the database before calling it down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The shared body of `/health` and `/ready`, and whether all checks pass.
async fn report(state: &AppState) -> (HealthReport, bool) {
    let database_ok = matches!(
        tokio::time::timeout(CHECK_TIMEOUT, state.db.send(Ping)).await,
        Ok(Ok(Ok(())))
    );
    let (connections, users) = state.registry.send(Stats).await.unwrap_or((0, 0));
    let redis = match &state.redis {
        None => Check::Disabled,
        Some(redis) if redis.health.subscriber_up() && redis.ping().await => Check::Ok,
        Some(_) => Check::Down,
    };
    let healthy = database_ok && redis != Check::Down;
    let body = HealthReport {
        status: if healthy {
            Status::Ok
        } else {
            Status::Degraded
        },
        version: env!("CARGO_PKG_VERSION"),
        node_id: state.node_id.clone(),
        uptime_seconds: state.started.elapsed().as_secs(),
        connections,
        users,
        checks: Checks {
            database: if database_ok { Check::Ok } else { Check::Down },
            redis,
        },
    };
    (body, healthy)
}

#[utoipa::path(
    get,
    path = "/health",
    tag = "operators",
    operation_id = "health",
    summary = "Liveness: always 200 while the process serves",
    responses((status = 200, description = "The node and its checks", body = HealthReport))
)]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(report(&state).await.0)
}

#[utoipa::path(
    get,
    path = "/ready",
    tag = "operators",
    operation_id = "ready",
    summary = "Readiness: 200 when storage (and Redis, where configured) answer",
    responses(
        (status = 200, description = "Ready", body = HealthReport),
        (status = 503, description = "Not ready; the same body says which check failed", body = HealthReport,
            headers(("Retry-After" = u64, description = "Seconds to wait before asking again"))),
    )
)]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    match report(&state).await {
        (body, true) => HttpResponse::Ok().json(body),
        // Contract §8: a 503 carries Retry-After.
        (body, false) => HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, "1"))
            .json(body),
    }
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operators",
    operation_id = "metrics",
    summary = "Prometheus metrics, text exposition format 0.0.4",
    responses((status = 200, description = "The metrics", body = String,
        content_type = "text/plain; version=0.0.4; charset=utf-8"))
)]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}
