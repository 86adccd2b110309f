//! The trigger for internal services: one alert, or a batch stored all or
//! nothing. Both go through the `AlertWriter`, so concurrent triggers share
//! transactions and every new alert is handed to delivery before we answer.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde_json::{Value, json};

use super::body::{BATCH_BODY_LIMIT, BODY_LIMIT, read_json};
use super::credentials::require_service;
use super::error::ApiError;
use super::state::AppState;
use crate::actors::messages::{StoreAlerts, Stored, db_result};
use crate::models::time::now_ms;
use crate::models::{AlertView, NewAlert, parse_batch};

async fn store(
    state: &AppState,
    alerts: Vec<NewAlert>,
    triggered_at_ms: i64,
) -> Result<Vec<Stored>, ApiError> {
    Ok(db_result(
        state
            .writer
            .send(StoreAlerts {
                alerts,
                triggered_at_ms,
                redeliver_existing: false,
            })
            .await,
    )?)
}

pub async fn trigger(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let triggered_at_ms = now_ms();
    require_service(&req, &state).await?;
    let deadline = state.sessions.limits.body_read_timeout;
    let body = read_json(&req, payload, BODY_LIMIT, deadline).await?;
    let alert = NewAlert::parse(&body, Utc::now()).map_err(ApiError::fields)?;
    let (row, created) = store(&state, vec![alert], triggered_at_ms)
        .await?
        .into_iter()
        .next()
        .ok_or(ApiError::Unavailable)?;
    let body = json!({ "alert": AlertView::from(&row), "created": created });
    Ok(if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

pub async fn batch(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let triggered_at_ms = now_ms();
    require_service(&req, &state).await?;
    let deadline = state.sessions.limits.body_read_timeout;
    let body = read_json(&req, payload, BATCH_BODY_LIMIT, deadline).await?;
    // Validate every item before storing any: all or nothing.
    let alerts = parse_batch(&body, Utc::now()).map_err(ApiError::Validation)?;
    let stored = store(&state, alerts, triggered_at_ms).await?;
    let results: Vec<Value> = stored
        .iter()
        .map(|(row, created)| json!({ "alert_id": row.id, "created": created }))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "results": results })))
}
