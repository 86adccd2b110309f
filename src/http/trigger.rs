//! The trigger for internal services: one alert, or a batch stored all or
//! nothing. Both go through the `AlertWriter`, so concurrent triggers share
//! transactions and every new alert is handed to delivery before we answer.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::body::{BATCH_BODY_LIMIT, BODY_LIMIT, read_json};
use super::error::ApiError;
use super::{AppState, header_credential};
use crate::actors::db::db_result;
use crate::actors::writer::{StoreAlerts, Stored};
use crate::auth::{AuthError, ServiceAuth};
use crate::auth_refusal::{Door, log_refusal};
use crate::delivery::now_ms;
use crate::models::{AlertView, NewAlert};

/// Max items in one batch.
const BATCH_MAX: usize = 1000;

async fn require_service(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    match state
        .auth
        .authenticate_service(header_credential(req).as_ref())
        .await
    {
        Ok(ServiceAuth::Service) => Ok(()),
        Ok(ServiceAuth::User) => Err(ApiError::Forbidden(
            "user tokens cannot trigger alerts; use a service key",
        )),
        Ok(ServiceAuth::Invalid(why)) | Err(AuthError::Invalid(why)) => {
            log_refusal(req.peer_addr(), Door::Trigger, why);
            Err(ApiError::Unauthorized("a service key is required"))
        }
        Err(AuthError::Unavailable) => Err(ApiError::Unavailable),
    }
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
    let items = match &body {
        Value::Object(obj) => {
            if let Some(extra) = obj.keys().find(|k| *k != "alerts") {
                return Err(ApiError::field(extra, "unknown field"));
            }
            obj.get("alerts").and_then(Value::as_array)
        }
        _ => {
            return Err(ApiError::field(
                "body",
                "must be a JSON object with \"alerts\"",
            ));
        }
    };
    let items = items
        .filter(|a| (1..=BATCH_MAX).contains(&a.len()))
        .ok_or_else(|| ApiError::field("alerts", "must be an array of 1-1000 alerts"))?;

    // Validate every item before storing any: all or nothing.
    let now = Utc::now();
    let mut alerts = Vec::with_capacity(items.len());
    let mut errors = Map::new();
    for (i, item) in items.iter().enumerate() {
        match NewAlert::parse(item, now) {
            Ok(alert) => alerts.push(alert),
            Err(fields) => {
                errors.insert(i.to_string(), json!(fields));
            }
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(Value::Object(errors)));
    }
    let stored = store(&state, alerts, triggered_at_ms).await?;
    let results: Vec<Value> = stored
        .iter()
        .map(|(row, created)| json!({ "alert_id": row.id, "created": created }))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "results": results })))
}
