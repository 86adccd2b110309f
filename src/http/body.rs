//! Reading a JSON body with a size limit and a deadline, after
//! authentication has passed, so an unauthenticated caller learns nothing
//! about body handling. The deadline covers the whole body: a sender that
//! stalls half-way (or trickles a byte at a time) is answered 408 instead
//! of holding a worker's attention and the connection forever. Errors of
//! actix-web's own extractors take the contract's shape here too.

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
    read_body(req, payload, limit, deadline, false).await
}

/// `read_json` for an endpoint whose body is optional: no body is `{}`.
pub async fn read_optional_json(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    deadline: Duration,
) -> Result<Value, ApiError> {
    read_body(req, payload, limit, deadline, true).await
}

async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    deadline: Duration,
    optional: bool,
) -> Result<Value, ApiError> {
    match tokio::time::timeout(deadline, read_limited(req, payload, limit, optional)).await {
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
    optional: bool,
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
    if optional && body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::InvalidJson(format!("the body is not valid JSON: {e}")))
}

/// actix-web's extractors answer a bad path, query or JSON body with their
/// own plain-text errors. Registered on the app, these handlers turn them
/// into the contract's shape, for every route that uses an extractor now or
/// later (the handlers of today parse their input themselves).
pub fn extractor_errors(cfg: &mut actix_web::web::ServiceConfig) {
    use actix_web::error::JsonPayloadError;
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
            .limit(BODY_LIMIT)
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

#[cfg(test)]
mod tests {
    use actix_web::{App, test};

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
