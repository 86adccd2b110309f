//! Web Push over REST (contract §6): the VAPID public key browsers
//! subscribe with, and a user's own subscriptions (create, list, delete)
//! with the same user credentials as the rest of the API.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::body::{BODY_LIMIT, read_json};
use super::credentials::require_user;
use super::error::{ApiError, ErrorBody};
use super::state::AppState;
use crate::actors::messages::db_result;
use crate::actors::messages::push::{CreateSubscription, DeleteSubscription, ListSubscriptions};
use crate::models::push::{NewSubscription, SubscriptionRequest, SubscriptionView};
use crate::storage::MAX_SUBSCRIPTIONS_PER_USER;

/// The body of `GET /api/v1/push/vapid-public-key`.
#[derive(Debug, Serialize, ToSchema)]
pub struct VapidPublicKey {
    /// base64url, an uncompressed P-256 point: the browser's
    /// `applicationServerKey`.
    pub public_key: String,
}

/// One subscription, as created or found.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionBody {
    pub subscription: SubscriptionView,
}

/// The user's subscriptions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionList {
    pub subscriptions: Vec<SubscriptionView>,
}

fn disabled() -> ApiError {
    ApiError::NotFound("Web Push is not enabled on this server (no VAPID key)".into())
}

/// `GET /api/v1/push/vapid-public-key` (no credential).
#[utoipa::path(
    get,
    path = "/api/v1/push/vapid-public-key",
    tag = "push",
    operation_id = "vapid_public_key",
    summary = "The VAPID public key browsers subscribe with",
    responses(
        (status = 200, description = "The key", body = VapidPublicKey),
        (status = 404, description = "Web Push is off on this server (no VAPID key)", body = ErrorBody),
    )
)]
pub async fn vapid_public_key(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let key = state.push.vapid.as_ref().ok_or_else(disabled)?;
    Ok(HttpResponse::Ok().json(VapidPublicKey {
        public_key: key.public_key().to_owned(),
    }))
}

/// `POST /api/v1/push/subscriptions`: 201 when new, 200 for an endpoint
/// the user had already subscribed.
#[utoipa::path(
    post,
    path = "/api/v1/push/subscriptions",
    tag = "push",
    operation_id = "push_subscribe",
    summary = "Stores a browser's push subscription for the user",
    request_body = SubscriptionRequest,
    security(("user_jwt" = []), ("user_token" = [])),
    responses(
        (status = 201, description = "Stored", body = SubscriptionBody),
        (status = 200, description = "This endpoint was already the user's", body = SubscriptionBody),
        (status = 400, response = super::error::InvalidJson),
        (status = 401, response = super::error::Unauthorized),
        (status = 404, description = "Web Push is off on this server", body = ErrorBody),
        (status = 408, response = super::error::RequestTimeout),
        (status = 413, response = super::error::PayloadTooLarge),
        (status = 422, response = super::error::ValidationFailed),
        (status = 429, response = super::error::RateLimited),
        (status = 503, response = super::error::Unavailable),
    )
)]
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
    let body = SubscriptionBody {
        subscription: SubscriptionView::from(&row),
    };
    Ok(if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// `GET /api/v1/push/subscriptions`.
#[utoipa::path(
    get,
    path = "/api/v1/push/subscriptions",
    tag = "push",
    operation_id = "push_subscriptions",
    summary = "The user's push subscriptions",
    security(("user_jwt" = []), ("user_token" = [])),
    responses(
        (status = 200, description = "The subscriptions", body = SubscriptionList),
        (status = 401, response = super::error::Unauthorized),
        (status = 429, response = super::error::RateLimited),
        (status = 503, response = super::error::Unavailable),
    )
)]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let user = require_user(&req, &state).await?;
    let rows = db_result(state.db.send(ListSubscriptions(user)).await)?;
    let views: Vec<SubscriptionView> = rows.iter().map(SubscriptionView::from).collect();
    Ok(HttpResponse::Ok().json(SubscriptionList {
        subscriptions: views,
    }))
}

/// `DELETE /api/v1/push/subscriptions/{id}`: 204; another user's is 404.
#[utoipa::path(
    delete,
    path = "/api/v1/push/subscriptions/{id}",
    tag = "push",
    operation_id = "push_unsubscribe",
    summary = "Deletes one of the user's push subscriptions",
    params(("id" = i64, Path, description = "The subscription's id")),
    security(("user_jwt" = []), ("user_token" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = super::error::Unauthorized),
        (status = 404, description = "The user has no such subscription", body = ErrorBody),
        (status = 429, response = super::error::RateLimited),
        (status = 503, response = super::error::Unavailable),
    )
)]
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
