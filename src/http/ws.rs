//! The WebSocket upgrade: every check that can happen before a session
//! exists (path, origin, `since`, credential), then the session actor.
//!
//! Upgrades do not go through actix-web's router. actix-http hands every
//! HTTP/1 request that asks for an upgrade to `upgrade_service` together
//! with the connection itself, so the dispatcher — and the two 8 KiB
//! buffers it keeps per connection — is gone once the socket is a
//! WebSocket, and the session reads and writes the socket directly
//! (`transport`). A plain GET on the WebSocket path still reaches the
//! router (`plain_get`), which explains that the endpoint speaks WebSocket
//! only.

use std::convert::Infallible;
use std::time::Duration;

use actix_codec::Framed;
use actix_http::body::{BodySize, MessageBody};
use actix_http::h1::{self, Message};
use actix_http::{Request, RequestHead};
use actix_service::{ServiceFactory, fn_factory, fn_service};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use futures_util::SinkExt;
use tokio::net::TcpStream;

use super::access_log;
use super::credentials::authorization;
use super::error::ApiError;
use super::session_threads::Handover;
use super::state::AppState;
use crate::auth::refusal::{Door, Refusal, log_refusal};
use crate::auth::{AuthError, Credential};
use crate::models::UserId;
use crate::protocol::Close;
use crate::telemetry::metrics::Rejection;
use crate::transport;

const PATH_PREFIX: &str = "/ws/breach-alerts/";

/// How long an upgrade may take, from the request to the session (or the
/// refusal) — a client that stops reading its handshake answer is dropped.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

/// How long a handshake may wait for its turn to start a session
/// (`SessionThreads::admit`) before it is answered 503.
const START_WAIT: Duration = Duration::from_secs(5);

/// What the request head says, checked.
struct Handshake {
    user: UserId,
    since: Option<i64>,
    credential: Option<Credential>,
}

/// The user in a WebSocket path (`/ws/breach-alerts/{user_id}` with an
/// optional trailing slash); anything else is 404.
fn path_user(path: &str) -> Result<UserId, ApiError> {
    let not_found = || ApiError::NotFound("no such endpoint".into());
    let rest = path.strip_prefix(PATH_PREFIX).ok_or_else(not_found)?;
    let segment = rest.strip_suffix('/').unwrap_or(rest);
    UserId::parse(segment).map_err(|_| not_found())
}

/// The checks of the contract, in its order, from the request head alone.
fn inspect(head: &RequestHead, state: &AppState) -> Result<Handshake, ApiError> {
    let user = path_user(head.uri.path())?;

    if let Some(origin) = head.headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !state.origin_allowed(origin) {
            state.metrics.rejected(Rejection::Origin);
            return Err(ApiError::Forbidden("origin not allowed"));
        }
    }

    let query = web::Query::<Vec<(String, String)>>::from_query(head.uri.query().unwrap_or(""))
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

    if actix_http::ws::verify_handshake(head).is_err() {
        return Err(ApiError::field(
            "upgrade",
            "this endpoint speaks WebSocket only",
        ));
    }

    // The first credential present is the only one tried.
    let credential = match param("token") {
        Some(token) => Credential::parse(token),
        None => authorization(&head.headers),
    };
    Ok(Handshake {
        user,
        since,
        credential,
    })
}

/// A GET on the WebSocket path that did not ask for an upgrade.
pub async fn plain_get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    inspect(req.head(), &state)?;
    Err(ApiError::field(
        "upgrade",
        "this endpoint speaks WebSocket only",
    ))
}

/// The service actix-http calls with every upgrade request and its
/// connection.
pub fn upgrade_service(
    state: web::Data<AppState>,
) -> impl ServiceFactory<
    (Request, Framed<TcpStream, h1::Codec>),
    Config = (),
    Response = (),
    Error = Infallible,
    InitError = (),
> {
    fn_factory(move || {
        let state = state.clone();
        async move {
            Ok::<_, ()>(fn_service(
                move |(req, framed): (Request, Framed<TcpStream, h1::Codec>)| {
                    let state = state.clone();
                    async move {
                        if tokio::time::timeout(HANDSHAKE_DEADLINE, upgrade(&state, req, framed))
                            .await
                            .is_err()
                        {
                            log::debug!("a WebSocket handshake did not finish in time");
                        }
                        Ok::<_, Infallible>(())
                    }
                },
            ))
        }
    })
}

async fn upgrade(state: &AppState, req: Request, framed: Framed<TcpStream, h1::Codec>) {
    let started = std::time::Instant::now();
    let path = req.path().to_owned();
    let (status, user) = handshake(state, req, framed).await;
    if state.access_log {
        access_log::log("GET", &path, status, started.elapsed(), user.as_ref());
    }
}

/// The upgrade itself; answers the status it ended with (101 once the
/// socket was switched) and the user, once a credential named one.
async fn handshake(
    state: &AppState,
    req: Request,
    mut framed: Framed<TcpStream, h1::Codec>,
) -> (u16, Option<UserId>) {
    let handshake = match inspect(req.head(), state) {
        Ok(handshake) => handshake,
        Err(error) => return respond(&mut framed, &error).await,
    };
    // Wait for a place among the sessions starting at once before any
    // further work (`SessionThreads` says why).
    let Some(starting) = state.session_threads.admit(START_WAIT).await else {
        state.metrics.rejected(Rejection::Unavailable);
        return respond(&mut framed, &ApiError::Unavailable).await;
    };
    let outcome = match &handshake.credential {
        Some(credential) => state.auth.authenticate(credential).await,
        None => Err(AuthError::Invalid(Refusal::Missing)),
    };
    let refusal = match &outcome {
        Ok(identity) if identity.user == handshake.user => None,
        Ok(_) => {
            log_refusal(req.peer_addr(), Door::WebSocket, Refusal::UserMismatch);
            Some((Rejection::UserMismatch, Close::UserMismatch))
        }
        Err(AuthError::Invalid(why)) => {
            log_refusal(req.peer_addr(), Door::WebSocket, *why);
            Some((Rejection::AuthenticationFailed, Close::AuthenticationFailed))
        }
        Err(AuthError::Unavailable) => {
            state.metrics.rejected(Rejection::Unavailable);
            return respond(&mut framed, &ApiError::Unavailable).await;
        }
    };
    let user = outcome.as_ref().ok().map(|i| i.user.clone());

    // `inspect` verified the handshake, so this builds the 101.
    let Ok(mut switching) = actix_http::ws::handshake(req.head()) else {
        return (500, user);
    };
    let Ok(switching) = switching.message_body(()) else {
        return (500, user);
    };
    if framed
        .send(Message::Item((switching, BodySize::None)))
        .await
        .is_err()
    {
        return (101, user);
    }
    let parts = framed.into_parts();
    match (refusal, outcome) {
        (None, Ok(identity)) => {
            // The session runs on a thread of its own, not on this worker
            // (`SessionThreads` says why).
            let Ok(io) = parts.io.into_std() else {
                return (101, user);
            };
            state.session_threads.start(Handover {
                io,
                leftover: parts.read_buf.to_vec(),
                identity,
                since: handshake.since,
                starting,
                services: state.sessions.clone(),
            });
        }
        (refusal, _) => {
            // A refused peer that does not read its close must not keep
            // another from starting.
            drop(starting);
            let (why, close) =
                refusal.unwrap_or((Rejection::AuthenticationFailed, Close::AuthenticationFailed));
            state.metrics.rejected(why);
            let deadline = state.sessions.limits.close_deadline;
            transport::refuse(parts.io, &parts.read_buf, close, deadline).await;
        }
    }
    (101, user)
}

/// Answers an upgrade request that is refused before any upgrade with the
/// contract's error JSON, then closes the connection.
async fn respond(
    framed: &mut Framed<TcpStream, h1::Codec>,
    error: &ApiError,
) -> (u16, Option<UserId>) {
    let response: actix_http::Response<_> = error.error_response().into();
    let status = response.status().as_u16();
    let (mut head, body) = response.into_parts();
    let body = body.try_into_bytes().unwrap_or_default();
    head.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    // Head and body in one write: sent apiece, a client that reads the
    // head first (tungstenite does) may take the refusal without its body.
    let size = BodySize::Sized(body.len() as u64);
    let _ = async {
        framed.feed(Message::Item((head, size))).await?;
        framed.feed(Message::Chunk(Some(body))).await?;
        framed.feed(Message::Chunk(None)).await?;
        framed.flush().await
    }
    .await;
    (status, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_names_the_user() {
        assert_eq!(path_user("/ws/breach-alerts/42/").unwrap().as_str(), "42");
        assert_eq!(path_user("/ws/breach-alerts/a_b").unwrap().as_str(), "a_b");
        assert!(path_user("/ws/breach-alerts/").is_err());
        assert!(path_user("/ws/breach-alerts/a/b").is_err());
        assert!(path_user("/ws/breach-alerts/a-b/").is_err());
        assert!(path_user("/api/v1/alerts").is_err());
    }
}
