//! Reading a JSON body with a size limit and a deadline, after
//! authentication has passed, so an unauthenticated caller learns nothing
//! about body handling. The deadline covers the whole body: a sender that
//! stalls half-way (or trickles a byte at a time) is answered 408 instead
//! of holding a worker's attention and the connection forever.

use std::time::Duration;

use actix_web::{HttpRequest, web};
use futures_util::StreamExt;
use serde_json::Value;

use super::error::ApiError;

pub const BODY_LIMIT: usize = 64 * 1024;
pub const BATCH_BODY_LIMIT: usize = 1024 * 1024;

pub async fn read_json(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    deadline: Duration,
) -> Result<Value, ApiError> {
    match tokio::time::timeout(deadline, read_limited(req, payload, limit)).await {
        Ok(read) => read,
        Err(_) => {
            log::info!(
                "a request body from {} did not arrive within {deadline:?}; answered 408",
                req.peer_addr()
                    .map_or_else(|| "an unknown address".into(), |p| p.to_string())
            );
            Err(ApiError::RequestTimeout(deadline.as_secs().max(1)))
        }
    }
}

async fn read_limited(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Value, ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::InvalidJson(format!("could not read the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::InvalidJson(format!("the body is not valid JSON: {e}")))
}
