//! `/health`, `/ready` and `/metrics` for operators and load balancers.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::state::AppState;
use crate::actors::messages::{Ping, Stats};

/// How long a health check waits for the database before calling it down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The shared body of `/health` and `/ready`, and whether the node is ready.
async fn report(state: &AppState) -> (serde_json::Value, bool) {
    let database_ok = matches!(
        tokio::time::timeout(CHECK_TIMEOUT, state.db.send(Ping)).await,
        Ok(Ok(Ok(())))
    );
    let (connections, users) = state.registry.send(Stats).await.unwrap_or((0, 0));
    // Per shard; "down" as soon as one shard is. A node stays ready while
    // at least one shard works: every node loses the same shard at once, so
    // taking them all out of the load balancer would only add the other
    // shards' users to the outage (docs/protocol.md, "Several nodes").
    let shards = match &state.redis {
        None => Vec::new(),
        Some(redis) => redis.shards_up().await,
    };
    let redis = match &state.redis {
        None => "disabled",
        Some(_) if shards.iter().all(|up| *up) => "ok",
        Some(_) => "down",
    };
    let redis_serves = state.redis.is_none() || shards.iter().any(|up| *up);
    let all_ok = database_ok && redis != "down";
    let mut body = json!({
        "status": if all_ok { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "node_id": state.node_id,
        "uptime_seconds": state.started.elapsed().as_secs(),
        "connections": connections,
        "users": users,
        "checks": { "database": if database_ok { "ok" } else { "down" }, "redis": redis },
    });
    if shards.len() > 1 {
        let each: Vec<_> = shards
            .iter()
            .map(|up| if *up { "ok" } else { "down" })
            .collect();
        body["checks"]["redis_shards"] = json!(each);
    }
    (body, database_ok && redis_serves)
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
    if let Some(redis) = &state.redis {
        for shard in redis.shards.iter() {
            let up = redis.health.subscriber_up(shard.index);
            state.metrics.redis_shard_up(shard.index, up);
        }
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}
