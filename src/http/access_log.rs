//! The optional access log (`ALERTHUB_ACCESS_LOG`, off by default): one
//! line per request, target `alerthub::access` at INFO — method, path
//! without the query, status, duration, and the user when a credential
//! named one.
//!
//! It holds nothing that authenticates: the query (where `?token=` lives)
//! is cut off, no header is written, and the user is the id the checked
//! credential named, never the credential. WebSocket handshakes, which do
//! not pass through the `App`, are logged by `http::ws` with the same line.

use std::time::{Duration, Instant};

use actix_web::HttpMessage;
use actix_web::dev::ServiceResponse;

use crate::models::UserId;

/// Put in a request's extensions by whoever authenticated its user.
#[derive(Clone)]
pub struct AccessUser(pub UserId);

/// One line of the access log.
pub fn line(
    method: &str,
    path: &str,
    status: u16,
    took: Duration,
    user: Option<&UserId>,
) -> String {
    let user = user.map_or("-", |u| u.as_str());
    format!(
        "{method} {path} {status} {:.1}ms user={user}",
        took.as_secs_f64() * 1000.0
    )
}

pub fn log(method: &str, path: &str, status: u16, took: Duration, user: Option<&UserId>) {
    log::info!(target: "alerthub::access", "{}", line(method, path, status, took, user));
}

/// Logs an answered request of the `App` (`started`: when it arrived).
pub fn record<B>(method: &str, path: &str, response: &ServiceResponse<B>, started: Instant) {
    let user = response.request().extensions().get::<AccessUser>().cloned();
    log(
        method,
        path,
        response.status().as_u16(),
        started.elapsed(),
        user.as_ref().map(|u| &u.0),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_has_no_query_and_names_the_user() {
        let user = UserId::parse("7").unwrap();
        let l = line(
            "GET",
            "/api/v1/alerts",
            200,
            Duration::from_micros(1500),
            Some(&user),
        );
        assert_eq!(l, "GET /api/v1/alerts 200 1.5ms user=7");
        assert!(line("POST", "/api/v1/alerts", 401, Duration::ZERO, None).ends_with("user=-"));
    }
}
