//! The one place where failures become the contract's error JSON:
//! `{"error":{"code":"…","message":"…","details":{…}}}`.

use actix_web::http::StatusCode;
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
            Self::Unavailable => "unavailable",
            Self::RequestTimeout(_) => "request_timeout",
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
        log::warn!("request failed on storage: {e}");
        Self::Unavailable
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
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut error = json!({ "code": self.code(), "message": self.to_string() });
        if let Self::Validation(details) = self {
            error["details"] = details.clone();
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
        response.json(json!({ "error": error }))
    }
}
