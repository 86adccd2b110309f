//! The browser dashboard and client library, embedded in the binary so a
//! single file is the whole deployment.

use actix_web::{HttpResponse, web};

/// (URL path, content type, file contents).
const FILES: &[(&str, &str, &str)] = &[
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("../../web/index.html"),
    ),
    (
        "/web/alerthub-client.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/alerthub-client.js"),
    ),
    (
        "/web/client/protocol.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/client/protocol.js"),
    ),
    (
        "/web/client/connection.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/client/connection.js"),
    ),
    (
        "/web/client/heartbeat.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/client/heartbeat.js"),
    ),
    (
        "/web/client/token-refresh.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/client/token-refresh.js"),
    ),
    (
        "/web/client/tab-group.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/client/tab-group.js"),
    ),
    (
        "/web/client/push.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/client/push.js"),
    ),
    (
        "/web/client/notify.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/client/notify.js"),
    ),
    // The Web Push service worker, at the root so its scope is the whole site.
    (
        "/sw.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/sw.js"),
    ),
    (
        "/web/dashboard/push-toggle.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/dashboard/push-toggle.js"),
    ),
    (
        "/web/rest-client.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/rest-client.js"),
    ),
    (
        "/web/useBreachWebSocket.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/useBreachWebSocket.js"),
    ),
    (
        "/web/react/hook.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/react/hook.js"),
    ),
    (
        "/web/dashboard.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/dashboard.js"),
    ),
    (
        "/web/alerts-state.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/alerts-state.js"),
    ),
    (
        "/web/dashboard/session.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/dashboard/session.js"),
    ),
    (
        "/web/dashboard/toasts.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/dashboard/toasts.js"),
    ),
    (
        "/web/dashboard/view.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/dashboard/view.js"),
    ),
    (
        "/web/dashboard.css",
        "text/css; charset=utf-8",
        include_str!("../../web/dashboard.css"),
    ),
];

pub fn routes(cfg: &mut web::ServiceConfig) {
    // Browsers ask for it on every page; nothing to show is not an error.
    cfg.route(
        "/favicon.ico",
        web::get().to(|| async { HttpResponse::NoContent().finish() }),
    );
    for &(path, content_type, body) in FILES {
        cfg.route(
            path,
            web::get().to(move || async move {
                HttpResponse::Ok()
                    .content_type(content_type)
                    .insert_header(("Cache-Control", "no-cache"))
                    .body(body)
            }),
        );
    }
}
