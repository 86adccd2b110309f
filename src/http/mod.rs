//! The HTTP surface: routes, shared state, and the CORS and error policies
//! that apply to all of them.

pub mod access_log;
mod body;
mod credentials;
mod dashboard;
pub mod error;
pub mod openapi;
mod operators;
mod push;
mod session_threads;
mod state;
mod tokens;
mod trigger;
mod user_alerts;
pub mod ws;

use actix_cors::Cors;
use actix_web::dev::Service;
use actix_web::http::header;
use actix_web::web;

pub use self::session_threads::SessionThreads;
pub use self::state::{AppState, PushState};
use error::ApiError;

/// CORS for the REST API: allowed origins get the preflight answers the
/// contract names; any other origin simply gets no CORS headers.
fn cors(allowed: &Option<Vec<String>>) -> Cors {
    let base = Cors::default()
        .allowed_methods(["GET", "POST", "DELETE"])
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
    body::extractor_errors(cfg);
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
            )
            .route("/openapi.json", web::get().to(openapi::openapi_json))
            .route(
                "/push/vapid-public-key",
                web::get().to(push::vapid_public_key),
            )
            .route("/push/subscriptions", web::post().to(push::subscribe))
            .route("/push/subscriptions", web::get().to(push::list))
            .route(
                "/push/subscriptions/{id}",
                web::delete().to(push::unsubscribe),
            )
            .route("/tokens", web::post().to(tokens::create))
            .route("/tokens/revoke", web::post().to(tokens::revoke))
            .route(
                "/users/{user_id}/sign-out",
                web::post().to(tokens::sign_out),
            ),
    )
    .route("/health", web::get().to(operators::health))
    .route("/ready", web::get().to(operators::ready))
    .service(
        web::resource("/metrics")
            .route(web::get().to(operators::metrics))
            .route(web::head().to(operators::metrics_head))
            // Other methods get the JSON 404 every unknown route gets.
            .default_service(web::to(not_found)),
    )
    .configure(dashboard::routes)
    .default_service(web::to(not_found));
}

/// What no route answered: a documented path with another method is 405
/// (with `Allow`), anything else 404.
async fn not_found(req: actix_web::HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(match openapi::allowed_methods(req.path()) {
        Some(allow) => ApiError::MethodNotAllowed(allow),
        None => ApiError::NotFound("no such endpoint".into()),
    })
}
