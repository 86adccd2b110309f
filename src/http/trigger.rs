//! The trigger for internal services: one alert, or a batch stored all or
//! nothing. Both go through the `AlertWriter`, so concurrent triggers share
//! transactions and every new alert is handed to delivery before we answer.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;

use super::body::{BATCH_BODY_LIMIT, BODY_LIMIT, read_json};
use super::credentials::require_service;
use super::error::ApiError;
use super::state::AppState;
use crate::actors::messages::{StoreAlerts, Stored, db_result};
use crate::models::time::now_ms;
use crate::models::wire_schema::{TriggerAlert, TriggerBatch};
use crate::models::{AlertView, NewAlert, parse_batch};

/// The stored alert, and whether this call created it (`false`: the same
/// `user_id` and `breach_id` were stored before; nothing was pushed again).
#[derive(Debug, Serialize, ToSchema)]
pub struct TriggerResult {
    pub alert: AlertView,
    pub created: bool,
}

/// One result per item of a batch, in the items' order.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResults {
    pub results: Vec<BatchItemResult>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItemResult {
    #[schema(minimum = 1)]
    pub alert_id: i64,
    pub created: bool,
}

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

#[utoipa::path(
    post,
    path = "/api/v1/alerts",
    tag = "service",
    operation_id = "trigger_alert",
    summary = "Stores an alert for a user and pushes it to the user's open sessions",
    request_body = TriggerAlert,
    security(("service_key" = [])),
    responses(
        (status = 201, description = "Stored and handed to delivery", body = TriggerResult),
        (status = 200, description = "Already stored (same `user_id` and `breach_id`); not pushed again", body = TriggerResult),
        (status = 400, response = super::error::InvalidJson),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::NotAServiceKey),
        (status = 408, response = super::error::RequestTimeout),
        (status = 413, response = super::error::PayloadTooLarge),
        (status = 422, response = super::error::ValidationFailed),
        (status = 503, response = super::error::Unavailable),
    )
)]
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
    let body = TriggerResult {
        alert: AlertView::from(&row),
        created,
    };
    Ok(if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

#[utoipa::path(
    post,
    path = "/api/v1/alerts/batch",
    tag = "service",
    operation_id = "trigger_batch",
    summary = "Stores 1-1,000 alerts, all or nothing",
    request_body = TriggerBatch,
    security(("service_key" = [])),
    responses(
        (status = 200, description = "Every item stored (or already stored)", body = BatchResults),
        (status = 400, response = super::error::InvalidJson),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::NotAServiceKey),
        (status = 408, response = super::error::RequestTimeout),
        (status = 413, response = super::error::PayloadTooLarge),
        (status = 422, response = super::error::ValidationFailed),
        (status = 503, response = super::error::Unavailable),
    )
)]
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
    let results = stored
        .iter()
        .map(|(row, created)| BatchItemResult {
            alert_id: row.id,
            created: *created,
        })
        .collect();
    Ok(HttpResponse::Ok().json(BatchResults { results }))
}
