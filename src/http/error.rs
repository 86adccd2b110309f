//! The one place where failures become the contract's error JSON:
//! `{"error":{"code":"…","message":"…","details":{…}}}`.
//!
//! Every 503 carries `Retry-After` (contract §8): 2 s when no database
//! connection came free in time (the database is down or saturated, and
//! retrying sooner only adds to the queue), 1 s otherwise. A 429 carries
//! the limiter's own wait, in whole seconds.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};

use crate::models::FieldErrors;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidJson(String),
    #[error("the request has invalid fields")]
    Validation(Value),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(String),
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("storage is unavailable; try again shortly")]
    Unavailable,
    #[error("the request body did not arrive within {0} s")]
    RequestTimeout(u64),
    /// A storage failure; logged once, when it is answered.
    #[error("storage is unavailable; try again shortly")]
    Storage(#[source] StorageError),
    /// Over the per-user rate limit; retry after this many seconds.
    #[error("too many requests; retry after {0} s")]
    RateLimited(u64),
}

impl ApiError {
    pub fn fields(errors: FieldErrors) -> Self {
        Self::Validation(json!(errors))
    }

    pub fn field(name: &str, why: &str) -> Self {
        Self::Validation(json!({ name: why }))
    }

    fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "invalid_json",
            Self::Validation(_) => "validation_failed",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::Unavailable | Self::Storage(_) => "unavailable",
            Self::RateLimited(_) => "rate_limited",
            Self::RequestTimeout(_) => "request_timeout",
        }
    }

    /// Seconds for `Retry-After`, on the answers that have one.
    fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Storage(StorageError::Pool(_)) => Some(2),
            Self::Unavailable | Self::Storage(_) => Some(1),
            Self::RateLimited(seconds) => Some((*seconds).max(1)),
            _ => None,
        }
    }
}

/// What a client is told when the database refused its alerts (the writer
/// has logged which and why).
pub const REFUSED_BY_DATABASE: &str = "refused by the database; nothing was stored";

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        if e.is_refusal() {
            // The request's own data: retrying it cannot help, so not a 503.
            return Self::field("body", REFUSED_BY_DATABASE);
        }
        Self::Storage(e)
    }
}

/// actix-web's extractors answer a bad path, query or JSON body with their
/// own plain-text errors. Registered on the app, these handlers turn them
/// into the contract's shape, for every route that uses an extractor now or
/// later (the handlers of today parse their input themselves).
pub fn extractor_errors(cfg: &mut actix_web::web::ServiceConfig) {
    use actix_web::error::JsonPayloadError;
    use actix_web::web;
    cfg.app_data(
        web::PathConfig::default()
            .error_handler(|_, _| ApiError::NotFound("no such endpoint".into()).into()),
    )
    .app_data(
        web::QueryConfig::default()
            .error_handler(|_, _| ApiError::field("query", "is not a valid query string").into()),
    )
    .app_data(
        web::JsonConfig::default()
            .limit(super::body::BODY_LIMIT)
            .error_handler(|e, _| {
                match e {
                    JsonPayloadError::OverflowKnownLength { limit, .. }
                    | JsonPayloadError::Overflow { limit } => ApiError::PayloadTooLarge(limit),
                    other => ApiError::InvalidJson(format!("the body is not valid JSON: {other}")),
                }
                .into()
            }),
    );
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidJson(_) => StatusCode::BAD_REQUEST,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable | Self::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut error = json!({ "code": self.code(), "message": self.to_string() });
        if let Self::Validation(details) = self {
            error["details"] = details.clone();
        }
        if let Self::Storage(e) = self {
            log::warn!("request failed on storage: {e}");
        }
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, Self::Unauthorized(_)) {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if matches!(self, Self::RequestTimeout(_)) {
            // The rest of the body may still come; the connection cannot
            // carry another request (RFC 9110 §15.5.9).
            response.force_close();
        }
        if let Some(seconds) = self.retry_after() {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response.json(json!({ "error": error }))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::{App, test, web};
    use serde_json::Value;

    use super::*;

    async fn answer(path: &str, body: Option<&'static str>) -> (u16, Value) {
        let app = test::init_service(
            App::new()
                .configure(extractor_errors)
                .route(
                    "/p/{n}",
                    web::get().to(|n: web::Path<u32>| async move { n.to_string() }),
                )
                .route(
                    "/q",
                    web::get().to(
                        |q: web::Query<std::collections::HashMap<String, u32>>| async move {
                            q.len().to_string()
                        },
                    ),
                )
                .route(
                    "/j",
                    web::post().to(|j: web::Json<Value>| async move { j.to_string() }),
                ),
        )
        .await;
        let req = match body {
            Some(b) => test::TestRequest::post()
                .uri(path)
                .insert_header(("content-type", "application/json"))
                .set_payload(b),
            None => test::TestRequest::get().uri(path),
        };
        let res = test::call_service(&app, req.to_request()).await;
        let status = res.status().as_u16();
        let bytes = test::read_body(res).await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[actix_web::test]
    async fn extractor_errors_take_the_contract_shape() {
        for (path, body, status, code) in [
            ("/p/abc", None, 404, "not_found"),
            ("/p/%FF", None, 404, "not_found"),
            ("/q?x=abc", None, 422, "validation_failed"),
            ("/q?x=%ZZ", None, 422, "validation_failed"),
            ("/j", Some("{not json"), 400, "invalid_json"),
        ] {
            let (got, json) = answer(path, body).await;
            assert_eq!(got, status, "{path}: {json}");
            assert_eq!(json["error"]["code"], code, "{path}: {json}");
            assert!(json["error"]["message"].is_string(), "{path}: {json}");
        }
        let big: &'static str = Box::leak(format!("\"{}\"", "x".repeat(70_000)).into_boxed_str());
        let (got, json) = answer("/j", Some(big)).await;
        assert_eq!(
            (got, json["error"]["code"].as_str()),
            (413, Some("payload_too_large"))
        );
        // A good request still goes through.
        assert_eq!(answer("/p/7", None).await.0, 200);
    }
}
