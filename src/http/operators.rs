//! `/health`, `/ready` and `/metrics` for operators and load balancers.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::state::AppState;
use crate::actors::messages::{Ping, Stats};
use crate::redis::RedisContext;
use crate::redis::backlog::ingest_backlog;

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
    /// `down` as soon as one Redis shard is down.
    pub redis: Check,
    /// With several Redis shards, each one's check, in `REDIS_URL` order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_shards: Option<Vec<Check>>,
    /// Web Push: `disabled` without a VAPID key, `down` when this node has
    /// not polled for due pushes lately. Reported, never counted against
    /// health: a node that cannot push still serves triggers and sockets.
    pub push: Check,
}

/// One dependency: `disabled` is Redis in single-node mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Check {
    Ok,
    Down,
    Disabled,
}
use crate::models::time::now_ms;

/// How long a health check waits for the database before calling it down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether the database answers a query within `CHECK_TIMEOUT`.
async fn database_ok(state: &AppState) -> bool {
    matches!(
        tokio::time::timeout(CHECK_TIMEOUT, state.db.send(Ping)).await,
        Ok(Ok(Ok(())))
    )
}

/// Per Redis shard: this node's pub/sub connection is up and the shard
/// answers PING.
async fn shards_ok(redis: &RedisContext) -> Vec<bool> {
    redis.shards_up().await
}

const fn check(up: bool) -> Check {
    if up { Check::Ok } else { Check::Down }
}

/// The shared body of `/health` and `/ready`, and whether the node is ready.
async fn report(state: &AppState) -> (HealthReport, bool) {
    let database_ok = database_ok(state).await;
    let (connections, users) = state.registry.send(Stats).await.unwrap_or((0, 0));
    let shards = match &state.redis {
        None => Vec::new(),
        Some(redis) => shards_ok(redis).await,
    };
    let redis = match &state.redis {
        None => Check::Disabled,
        Some(_) => check(shards.iter().all(|up| *up)),
    };
    let healthy = database_ok && redis != Check::Down;
    // A node stays ready while at least one shard works: every node loses
    // the same shard at once, so taking them all out of the load balancer
    // would only add the other shards' users to the outage
    // (docs/protocol.md, "Several Redis shards").
    let ready = database_ok && (state.redis.is_none() || shards.iter().any(|up| *up));
    let redis_shards = (shards.len() > 1).then(|| shards.iter().map(|up| check(*up)).collect());
    let push = match &state.push.vapid {
        None => Check::Disabled,
        Some(_) => {
            let within = state.push.silence_allowed.as_millis() as i64;
            check(state.push.health.is_polling(now_ms(), within))
        }
    };
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
            redis_shards,
            push,
        },
    };
    (body, ready)
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
    refresh_node_gauges(&state).await;
    HttpResponse::Ok()
        .content_type(METRICS_TYPE)
        .body(state.metrics.render())
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
            let (shards, backlog) = tokio::join!(shards_ok(ctx), ingest_backlog(ctx));
            gauges.up.set(i64::from(shards.iter().all(|up| *up)));
            for (shard, up) in shards.iter().enumerate() {
                gauges.set_shard_up(shard, *up);
            }
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

#[utoipa::path(
    head,
    path = "/metrics",
    tag = "operators",
    operation_id = "metrics_head",
    summary = "The headers GET /metrics would answer, without running the checks",
    responses((status = 200, description = "Metrics are served here"))
)]
/// `HEAD /metrics`: what a GET would answer, without the body and without
/// running the checks (a reachability probe must stay cheap).
pub async fn metrics_head() -> HttpResponse {
    HttpResponse::Ok().content_type(METRICS_TYPE).finish()
}
