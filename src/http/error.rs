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
