//! Credentials that end (contract §5), for services (service key, as the
//! trigger): opaque tokens minted and revoked over REST, and "sign out
//! everywhere". Each change is stored first, then announced through
//! `Delivery::control`, which closes the sessions concerned on this node
//! and, in multi-node mode, on every other one.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::body::{BODY_LIMIT, read_json, read_optional_json};
use super::credentials::require_service;
use super::error::ApiError;
use super::state::AppState;
use crate::actors::messages::{CreateToken, RevokeToken, SignOutUser, db_result};
use crate::auth::opaque;
use crate::models::UserId;
use crate::models::time::format_timestamp;
use crate::protocol::ControlEvent;
use crate::storage::token_id;

/// `POST /api/v1/tokens`, as the OpenAPI document describes it (the
/// handler reads the JSON itself, naming every bad field).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "a schema for the document; the handler reads the JSON"
)]
pub struct CreateTokenRequest {
    /// `^\w{1,64}$` (ASCII), or a non-negative integer, as in a trigger.
    #[schema(schema_with = crate::models::wire_schema::user_id_schema)]
    pub user_id: Value,
    #[schema(max_length = 64)]
    pub label: Option<String>,
}

/// A new opaque token: the token itself is shown only here.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    /// Names the token without revealing it (first 16 hex digits of its SHA-256).
    pub token_id: String,
    pub user_id: String,
    pub token: String,
}

/// `POST /api/v1/tokens/revoke`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "a schema for the document; the handler reads the JSON"
)]
pub struct RevokeTokenRequest {
    /// The token, bare or as in an `Authorization` header (`Token …`, `Bearer …`).
    pub token: String,
}

/// Whether this call revoked the token (`false`: unknown or already revoked).
#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    pub revoked: bool,
}

/// `POST /api/v1/users/{user_id}/sign-out`; the body may be omitted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "a schema for the document; the handler reads the JSON"
)]
pub struct SignOutRequest {
    /// A `session_id` from `connection_established` that stays open.
    #[schema(max_length = 128)]
    pub except_session: Option<String>,
    /// Also void the user's opaque tokens and JWTs issued before now (default true).
    pub revoke_tokens: Option<bool>,
}

/// The sign-out's instant: JWTs of the user issued in an earlier second are void.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedOut {
    pub user_id: String,
    #[schema(format = DateTime)]
    pub signed_out_at: String,
}

/// The most characters of a token's label.
const LABEL_MAX: usize = 64;

/// The body as an object whose fields are all among `known`.
fn fields(body: Value, known: &[&str]) -> Result<Map<String, Value>, ApiError> {
    let Value::Object(obj) = body else {
        return Err(ApiError::field("body", "must be a JSON object"));
    };
    let unknown: Map<String, Value> = obj
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .map(|k| (k.clone(), json!("is not a known field")))
        .collect();
    if unknown.is_empty() {
        Ok(obj)
    } else {
        Err(ApiError::Validation(Value::Object(unknown)))
    }
}

/// `POST /api/v1/tokens`: `{"user_id","label"?}` → 201 with the token,
/// shown only here.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    tag = "service",
    operation_id = "create_token",
    summary = "Mints an opaque token for a user",
    request_body = CreateTokenRequest,
    security(("service_key" = [])),
    responses(
        (status = 201, description = "The token, shown only here", body = CreatedToken),
        (status = 400, response = super::error::InvalidJson),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::NotAServiceKey),
        (status = 408, response = super::error::RequestTimeout),
        (status = 413, response = super::error::PayloadTooLarge),
        (status = 422, response = super::error::ValidationFailed),
        (status = 503, response = super::error::Unavailable),
    )
)]
pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_service(&req, &state).await?;
    let deadline = state.sessions.limits.body_read_timeout;
    let body = fields(
        read_json(&req, payload, BODY_LIMIT, deadline).await?,
        &["user_id", "label"],
    )?;
    let mut bad = Map::new();
    let user = match body.get("user_id") {
        Some(Value::String(raw)) => UserId::parse(raw)
            .map_err(|e| bad.insert("user_id".into(), json!(e.to_string())))
            .ok(),
        Some(Value::Number(n)) => UserId::from_claim(&Value::Number(n.clone()))
            .map_err(|e| bad.insert("user_id".into(), json!(e.to_string())))
            .ok(),
        _ => {
            bad.insert("user_id".into(), json!("is required (a string)"));
            None
        }
    };
    let label = match body.get("label") {
        None | Some(Value::Null) => None,
        Some(Value::String(l)) if l.chars().count() <= LABEL_MAX && !l.contains('\0') => {
            Some(l.clone())
        }
        Some(_) => {
            bad.insert(
                "label".into(),
                json!(format!(
                    "must be a string of at most {LABEL_MAX} characters"
                )),
            );
            None
        }
    };
    let Some(user) = user.filter(|_| bad.is_empty()) else {
        return Err(ApiError::Validation(Value::Object(bad)));
    };
    let token = db_result(
        state
            .db
            .send(CreateToken {
                user: user.clone(),
                label,
            })
            .await,
    )?;
    Ok(HttpResponse::Created().json(CreatedToken {
        token_id: token_id(&token),
        user_id: user.as_str().to_owned(),
        token,
    }))
}

/// `POST /api/v1/tokens/revoke`: `{"token"}` → `{"revoked":bool}`. The
/// sessions of a known token are closed even when it was already revoked
/// (the CLI revokes in the database, then asks the server to close them).
#[utoipa::path(
    post,
    path = "/api/v1/tokens/revoke",
    tag = "service",
    operation_id = "revoke_token",
    summary = "Revokes an opaque token and closes its sessions on every node",
    request_body = RevokeTokenRequest,
    security(("service_key" = [])),
    responses(
        (status = 200, description = "Done", body = Revoked),
        (status = 400, response = super::error::InvalidJson),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::NotAServiceKey),
        (status = 408, response = super::error::RequestTimeout),
        (status = 413, response = super::error::PayloadTooLarge),
        (status = 422, response = super::error::ValidationFailed),
        (status = 503, response = super::error::Unavailable),
    )
)]
pub async fn revoke(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_service(&req, &state).await?;
    let deadline = state.sessions.limits.body_read_timeout;
    let body = fields(
        read_json(&req, payload, BODY_LIMIT, deadline).await?,
        &["token"],
    )?;
    let Some(Value::String(token)) = body.get("token") else {
        return Err(ApiError::field("token", "is required (a string)"));
    };
    // "Token …" or "Bearer …" as in an Authorization header is accepted.
    let token = token
        .trim()
        .split_once(char::is_whitespace)
        .map_or(token.trim(), |(_, t)| t.trim());
    let found = db_result(state.db.send(RevokeToken(token.to_owned())).await)?;
    if let Some(user) = found.user {
        state.delivery.control(ControlEvent::TokenRevoked {
            user,
            token_hash: opaque::hash_hex(token),
        });
    }
    Ok(HttpResponse::Ok().json(Revoked {
        revoked: found.revoked_now,
    }))
}

/// `POST /api/v1/users/{user_id}/sign-out`, body optional:
/// `{"except_session"?, "revoke_tokens"?: true}`.
#[utoipa::path(
    post,
    path = "/api/v1/users/{user_id}/sign-out",
    tag = "service",
    operation_id = "sign_out",
    summary = "Closes the user's sessions on every node and voids older credentials",
    params(("user_id" = String, Path, description = "The user")),
    request_body(content = Option<SignOutRequest>, description = "Optional"),
    security(("service_key" = [])),
    responses(
        (status = 200, description = "Signed out", body = SignedOut),
        (status = 400, response = super::error::InvalidJson),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::NotAServiceKey),
        (status = 404, description = "Not a valid user id", body = super::error::ErrorBody),
        (status = 408, response = super::error::RequestTimeout),
        (status = 413, response = super::error::PayloadTooLarge),
        (status = 422, response = super::error::ValidationFailed),
        (status = 503, response = super::error::Unavailable),
    )
)]
pub async fn sign_out(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user =
        UserId::parse(&path.into_inner()).map_err(|_| ApiError::NotFound("no such user".into()))?;
    require_service(&req, &state).await?;
    let deadline = state.sessions.limits.body_read_timeout;
    // The body is optional: none, `{}` and `null` all mean the defaults.
    let body = match read_optional_json(&req, payload, BODY_LIMIT, deadline).await? {
        Value::Null => Map::new(),
        given => fields(given, &["except_session", "revoke_tokens"])?,
    };
    let except_session = match body.get("except_session") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() <= 128 => Some(s.clone()),
        Some(_) => {
            return Err(ApiError::field(
                "except_session",
                "must be a session_id (a string)",
            ));
        }
    };
    let revoke_tokens = match body.get("revoke_tokens") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::field("revoke_tokens", "must be true or false")),
    };
    let at = Utc::now();
    if revoke_tokens {
        db_result(
            state
                .db
                .send(SignOutUser {
                    user: user.clone(),
                    at,
                })
                .await,
        )?;
    }
    state.delivery.control(ControlEvent::SignedOut {
        user: user.as_str().to_owned(),
        except_session,
        revoke_tokens,
        at_ms: at.timestamp_millis(),
    });
    Ok(HttpResponse::Ok().json(SignedOut {
        user_id: user.as_str().to_owned(),
        signed_out_at: format_timestamp(at),
    }))
}
