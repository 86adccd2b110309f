//! Who is calling a REST endpoint: the credential in the `Authorization`
//! header, checked, and the one mapping from an authentication failure to
//! the contract's HTTP error (with the refusal logged once, never the
//! credential itself).

use std::net::SocketAddr;

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest};

use super::access_log::AccessUser;
use super::error::ApiError;
use super::state::AppState;
use crate::auth::refusal::{Door, Refusal, log_refusal};
use crate::auth::{AuthError, Credential, ServiceAuth};
use crate::models::UserId;

/// The credential in an `Authorization` header, from any request's headers.
pub fn authorization(headers: &header::HeaderMap) -> Option<Credential> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(Credential::parse)
}

/// An authentication failure as the contract's error, logged once.
pub fn refused(peer: Option<SocketAddr>, door: Door, error: AuthError) -> ApiError {
    match error {
        AuthError::Invalid(why) => {
            log_refusal(peer, door, why);
            ApiError::Unauthorized(match door {
                Door::Trigger => "a service key is required",
                _ => "authentication failed",
            })
        }
        AuthError::Unavailable => ApiError::Unavailable,
    }
}

/// The user behind the `Authorization` header of a REST call, once this
/// call is counted against the user's rate limit (429 past it). Every
/// endpoint that takes a user token goes through here.
pub async fn require_user(req: &HttpRequest, state: &AppState) -> Result<UserId, ApiError> {
    let credential = authorization(req.headers()).ok_or(AuthError::Invalid(Refusal::Missing));
    let user = match credential {
        Ok(credential) => state.auth.authenticate(&credential).await,
        Err(e) => Err(e),
    }
    .map_err(|e| refused(req.peer_addr(), Door::Rest, e))?
    .user;
    req.extensions_mut().insert(AccessUser(user.clone()));
    state.rest_limit.check(&user).map_err(|retry_after| {
        state.metrics.rest_rate_limited.inc();
        ApiError::RateLimited(retry_after)
    })?;
    Ok(user)
}

/// Passes only calls that carry a service key; a user token is 403.
pub async fn require_service(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let credential = authorization(req.headers());
    match state.auth.authenticate_service(credential.as_ref()).await {
        Ok(ServiceAuth::Service) => Ok(()),
        Ok(ServiceAuth::User) => Err(ApiError::Forbidden(
            "user tokens cannot trigger alerts; use a service key",
        )),
        Ok(ServiceAuth::Invalid(why)) => Err(refused(
            req.peer_addr(),
            Door::Trigger,
            AuthError::Invalid(why),
        )),
        Err(e) => Err(refused(req.peer_addr(), Door::Trigger, e)),
    }
}
