//! Web Push over REST (contract §6): the VAPID public key browsers
//! subscribe with, and a user's own subscriptions (create, list, delete)
//! with the same user credentials as the rest of the API.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::body::{BODY_LIMIT, read_json};
use super::credentials::require_user;
use super::error::ApiError;
use super::state::AppState;
use crate::actors::messages::db_result;
use crate::actors::messages::push::{CreateSubscription, DeleteSubscription, ListSubscriptions};
use crate::models::push::{NewSubscription, SubscriptionView};
use crate::storage::MAX_SUBSCRIPTIONS_PER_USER;

fn disabled() -> ApiError {
    ApiError::NotFound("Web Push is not enabled on this server (no VAPID key)".into())
}

/// `GET /api/v1/push/vapid-public-key` (no credential).
pub async fn vapid_public_key(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let key = state.push.vapid.as_ref().ok_or_else(disabled)?;
    Ok(HttpResponse::Ok().json(json!({ "public_key": key.public_key() })))
}

/// `POST /api/v1/push/subscriptions`: 201 when new, 200 for an endpoint
/// the user had already subscribed.
pub async fn subscribe(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = require_user(&req, &state).await?;
    let body = read_json(
        &req,
        payload,
        BODY_LIMIT,
        state.sessions.limits.body_read_timeout,
    )
    .await?;
    let subscription =
        NewSubscription::parse(&body, state.push.allow_insecure).map_err(ApiError::fields)?;
    let (row, created) = db_result(
        state
            .db
            .send(CreateSubscription { user, subscription })
            .await,
    )?
    .ok_or_else(|| {
        ApiError::field(
            "endpoint",
            &format!(
                "this user has {MAX_SUBSCRIPTIONS_PER_USER} subscriptions already; delete one first"
            ),
        )
    })?;
    let body = json!({ "subscription": SubscriptionView::from(&row) });
    Ok(if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// `GET /api/v1/push/subscriptions`.
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let user = require_user(&req, &state).await?;
    let rows = db_result(state.db.send(ListSubscriptions(user)).await)?;
    let views: Vec<SubscriptionView> = rows.iter().map(SubscriptionView::from).collect();
    Ok(HttpResponse::Ok().json(json!({ "subscriptions": views })))
}

/// `DELETE /api/v1/push/subscriptions/{id}`: 204; another user's is 404.
pub async fn unsubscribe(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = require_user(&req, &state).await?;
    let not_found =
        || ApiError::NotFound(format!("no subscription {} for this user", path.as_str()));
    let id: i64 = path.parse().map_err(|_| not_found())?;
    if db_result(state.db.send(DeleteSubscription { user, id }).await)? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(not_found())
    }
}
