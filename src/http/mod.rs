//! The HTTP surface: routes, shared state, and the CORS and error policies
//! that apply to all of them.

mod body;
mod dashboard;
pub mod error;
mod operators;
mod trigger;
mod user_alerts;
pub mod ws;

use std::sync::Arc;
use std::time::Instant;

use actix::Addr;
use actix_cors::Cors;
use actix_web::dev::Service;
use actix_web::http::header;
use actix_web::{HttpRequest, web};

use crate::actors::db::DbActor;
use crate::actors::registry::Registry;
use crate::actors::session::SessionServices;
use crate::actors::writer::AlertWriter;
use crate::auth::{AuthError, Authenticator, Credential};
use crate::auth_refusal::{Door, Refusal, log_refusal};
use crate::delivery::Delivery;
use crate::metrics::Metrics;
use crate::models::UserId;
use crate::rest_limit::RestLimiter;
use error::ApiError;

/// What every handler may use; cheap to clone into each worker.
pub struct AppState {
    pub auth: Authenticator,
    pub writer: Addr<AlertWriter>,
    pub db: Addr<DbActor>,
    pub registry: Addr<Registry>,
    pub delivery: Delivery,
    pub metrics: Arc<Metrics>,
    pub sessions: Arc<SessionServices>,
    /// The per-user limit of the endpoints that take a user token.
    pub rest_limit: RestLimiter,
    pub allowed_origins: Option<Vec<String>>,
    pub node_id: String,
    pub redis: Option<crate::redis::RedisContext>,
    pub started: Instant,
}

impl AppState {
    fn origin_allowed(&self, origin: &str) -> bool {
        self.allowed_origins
            .as_ref()
            .is_none_or(|list| list.iter().any(|o| o == origin))
    }
}

/// The `Authorization` header as a credential, if it is one.
fn header_credential(req: &HttpRequest) -> Option<Credential> {
    authorization(req.headers())
}

/// The credential in an `Authorization` header, from any request's headers.
fn authorization(headers: &header::HeaderMap) -> Option<Credential> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(Credential::parse)
}

/// The user behind the `Authorization` header of a REST call, once this
/// call is counted against the user's rate limit (429 past it). Every
/// endpoint that takes a user token goes through here.
async fn require_user(req: &HttpRequest, state: &AppState) -> Result<UserId, ApiError> {
    let Some(credential) = header_credential(req) else {
        log_refusal(req.peer_addr(), Door::Rest, Refusal::Missing);
        return Err(ApiError::Unauthorized("a user token is required"));
    };
    let user = state
        .auth
        .authenticate(&credential)
        .await
        .map_err(|e| match e {
            AuthError::Invalid(why) => {
                log_refusal(req.peer_addr(), Door::Rest, why);
                ApiError::Unauthorized("authentication failed")
            }
            AuthError::Unavailable => ApiError::Unavailable,
        })?;
    state.rest_limit.check(&user).map_err(|retry_after| {
        state.metrics.rest_rate_limited.inc();
        ApiError::RateLimited(retry_after)
    })?;
    Ok(user)
}

/// CORS for the REST API: allowed origins get the preflight answers the
/// contract names; any other origin simply gets no CORS headers.
fn cors(allowed: &Option<Vec<String>>) -> Cors {
    let base = Cors::default()
        .allowed_methods(["GET", "POST"])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(3600)
        .block_on_origin_mismatch(false);
    match allowed {
        None => base.allow_any_origin(),
        Some(list) => list
            .iter()
            .fold(base, |cors, origin| cors.allowed_origin(origin)),
    }
}

pub fn routes(cfg: &mut web::ServiceConfig, allowed_origins: &Option<Vec<String>>) {
    error::extractor_errors(cfg);
    cfg.service(
        web::resource([
            "/ws/breach-alerts/{user_id}",
            "/ws/breach-alerts/{user_id}/",
        ])
        .route(web::get().to(ws::plain_get)),
    )
    .service(
        web::scope("/api/v1")
            .wrap(cors(allowed_origins))
            .wrap_fn(|req, srv| {
                // A refused preflight gets the contract's error shape too.
                let call = srv.call(req);
                async move {
                    let res = call.await?;
                    let refused = res
                        .response()
                        .error()
                        .and_then(|e| e.as_error::<actix_cors::CorsError>());
                    Ok(match refused {
                        Some(e) => {
                            log::debug!("CORS refused: {e}");
                            let forbidden = ApiError::Forbidden(
                                "CORS request refused: origin, method or headers not allowed",
                            );
                            res.into_response(actix_web::ResponseError::error_response(&forbidden))
                                .map_into_right_body()
                        }
                        None => res.map_into_left_body(),
                    })
                }
            })
            .route("/alerts", web::post().to(trigger::trigger))
            .route("/alerts/batch", web::post().to(trigger::batch))
            .route("/alerts", web::get().to(user_alerts::list))
            .route(
                "/alerts/unread-count",
                web::get().to(user_alerts::unread_count),
            )
            .route("/alerts/read-all", web::post().to(user_alerts::read_all))
            .route(
                "/alerts/{alert_id}/read",
                web::post().to(user_alerts::mark_read),
            ),
    )
    .route("/health", web::get().to(operators::health))
    .route("/ready", web::get().to(operators::ready))
    .route("/metrics", web::get().to(operators::metrics))
    .configure(dashboard::routes)
    .default_service(web::to(not_found));
}

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such endpoint".into()))
}
