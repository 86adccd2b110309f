//! The one place where failures become the contract's error JSON:
//! `{"error":{"code":"…","message":"…","details":{…}}}`.
//!
//! Every 503 carries `Retry-After` (contract §8): 2 s when no database
//! connection came free in time (the database is down or saturated, and
//! retrying sooner only adds to the queue), 1 s otherwise. A 429 carries
//! the limiter's own wait, in whole seconds.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::{ToResponse, ToSchema};

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
    /// A known path with a method it does not serve; the methods it does.
    #[error("this endpoint takes {0}")]
    MethodNotAllowed(&'static str),
}

/// The contract's error JSON, the body of every 4xx and 5xx answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: a stable `code`, a sentence for people, and for
/// `validation_failed` the bad fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// Each bad field (or batch item index, or query parameter) and why it
    /// was refused; only on `validation_failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

/// The error codes of the contract (§2, §8), `request_timeout` for a body
/// that did not arrive in time, and `method_not_allowed` (405, with
/// `Allow`) for a documented path called with another method.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidJson,
    ValidationFailed,
    Unauthorized,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unavailable,
    RateLimited,
    RequestTimeout,
    MethodNotAllowed,
}

impl ApiError {
    pub fn fields(errors: FieldErrors) -> Self {
        Self::Validation(json!(errors))
    }

    pub fn field(name: &str, why: &str) -> Self {
        Self::Validation(json!({ name: why }))
    }

    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidJson(_) => ErrorCode::InvalidJson,
            Self::Validation(_) => ErrorCode::ValidationFailed,
            Self::Unauthorized(_) => ErrorCode::Unauthorized,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            Self::Unavailable | Self::Storage(_) => ErrorCode::Unavailable,
            Self::RateLimited(_) => ErrorCode::RateLimited,
            Self::RequestTimeout(_) => ErrorCode::RequestTimeout,
            Self::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
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
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let details = match self {
            Self::Validation(details) => Some(details.clone()),
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
                details,
            },
        };
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
        if let Self::MethodNotAllowed(allow) = self {
            response.insert_header((header::ALLOW, *allow));
        }
        if let Some(seconds) = self.retry_after() {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response.json(body)
    }
}

// The error answers as the OpenAPI document names them (each handler's
// `responses(...)` refers to these), all with the body `ErrorBody`.

/// The JSON body is not JSON (or could not be read).
#[derive(ToResponse)]
#[response(description = "The body is not valid JSON: `invalid_json`")]
pub struct InvalidJson(pub ErrorBody);

/// No valid credential.
#[derive(ToResponse)]
#[response(
    description = "Missing, malformed, expired, revoked or wrongly signed credential: `unauthorized`",
    headers(("WWW-Authenticate" = String, description = "`Bearer`"))
)]
pub struct Unauthorized(pub ErrorBody);

#[derive(ToResponse)]
#[response(description = "A user token where a service key is required: `forbidden`")]
pub struct NotAServiceKey(pub ErrorBody);

#[derive(ToResponse)]
#[response(description = "The body did not arrive in time: `request_timeout`")]
pub struct RequestTimeout(pub ErrorBody);

#[derive(ToResponse)]
#[response(
    description = "The body is over the limit (64 KiB; 1 MiB for a batch): `payload_too_large`"
)]
pub struct PayloadTooLarge(pub ErrorBody);

#[derive(ToResponse)]
#[response(
    description = "`validation_failed`; `details` names each bad field (by index in a batch)"
)]
pub struct ValidationFailed(pub ErrorBody);

#[derive(ToResponse)]
#[response(
    description = "Over the user's request rate: `rate_limited`",
    headers(("Retry-After" = u64, description = "Seconds to wait before the next request"))
)]
pub struct RateLimited(pub ErrorBody);

#[derive(ToResponse)]
#[response(
    description = "Storage is unavailable: `unavailable`",
    headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))
)]
pub struct Unavailable(pub ErrorBody);
