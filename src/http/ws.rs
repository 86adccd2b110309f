//! The WebSocket upgrade: every check that can happen before a session
//! exists (path, origin, `since`, credential), then the session actor.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_web_actors::ws as actix_ws;

use super::error::ApiError;
use super::{AppState, header_credential};
use crate::actors::session::{Rejected, WsSession};
use crate::auth::{AuthError, Credential};
use crate::auth_refusal::{Door, Refusal, log_refusal};
use crate::metrics::Rejection;
use crate::models::UserId;

pub async fn upgrade(
    req: HttpRequest,
    stream: web::Payload,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = UserId::parse(&path).map_err(|_| ApiError::NotFound("no such endpoint".into()))?;

    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !state.origin_allowed(origin) {
            state.metrics.rejected(Rejection::Origin);
            return Err(ApiError::Forbidden("origin not allowed"));
        }
    }

    let query = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|_| ApiError::field("query", "is not a valid query string"))?;
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let since = param("since")
        .map(|s| {
            s.parse::<i64>()
                .ok()
                .filter(|v| *v >= 0)
                .ok_or_else(|| ApiError::field("since", "must be a non-negative integer"))
        })
        .transpose()?;

    if actix_ws::handshake(&req).is_err() {
        return Err(ApiError::field(
            "upgrade",
            "this endpoint speaks WebSocket only",
        ));
    }

    // The first credential present is the only one tried.
    let credential = match param("token") {
        Some(token) => Credential::parse(token),
        None => header_credential(&req),
    };
    let outcome = match &credential {
        Some(credential) => state.auth.authenticate(credential).await,
        None => Err(AuthError::Invalid(Refusal::Missing)),
    };
    let refusal = match outcome {
        Ok(token_user) if token_user == user => None,
        Ok(_) => {
            log_refusal(req.peer_addr(), Door::WebSocket, Refusal::UserMismatch);
            Some((Rejection::UserMismatch, "user mismatch"))
        }
        Err(AuthError::Invalid(why)) => {
            log_refusal(req.peer_addr(), Door::WebSocket, why);
            Some((Rejection::AuthenticationFailed, "authentication failed"))
        }
        Err(AuthError::Unavailable) => {
            state.metrics.rejected(Rejection::Unavailable);
            return Err(ApiError::Unavailable);
        }
    };
    let frame_size = state.sessions.limits.max_frame_bytes;
    let response = match refusal {
        Some((why, reason)) => {
            state.metrics.rejected(why);
            actix_ws::WsResponseBuilder::new(Rejected { reason }, &req, stream).start()
        }
        None => actix_ws::WsResponseBuilder::new(
            WsSession::new(user, since, state.sessions.clone()),
            &req,
            stream,
        )
        .frame_size(frame_size)
        .start(),
    };
    response.map_err(|_| ApiError::field("upgrade", "this endpoint speaks WebSocket only"))
}
