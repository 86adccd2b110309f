//! Issue 14: the operator metrics beyond the contract's minimum — process
//! metrics, build info, the database gauge, every labelled series at 0
//! from start, and `HEAD /metrics` — over a real socket.

use alerthub_test_support::*;

use alerthub_test_support::metric_value as value;

#[actix_web::test]
async fn process_metrics_describe_this_process() {
    let app = spawn_app().await;
    let text = app.metrics().await;
    let open = value(&text, "process_open_fds");
    let max = value(&text, "process_max_fds");
    // The test process holds at least the server's listener and this scrape's socket.
    assert!(open >= 2.0, "{open}");
    assert!(max >= open, "limit {max} below open {open}");
    // Compare with what the kernel says about this very process.
    let kernel_fds = std::fs::read_dir("/proc/self/fd").unwrap().count() as f64;
    assert!(
        (open - kernel_fds).abs() < 200.0,
        "metric {open}, /proc {kernel_fds}"
    );
    let rss = value(&text, "process_resident_memory_bytes");
    assert!(rss > 1_000_000.0, "{rss}");
    assert!(value(&text, "process_cpu_seconds_total") >= 0.0);
    assert!(value(&text, "process_start_time_seconds") > 1.7e9);
}

#[actix_web::test]
async fn build_info_and_the_database_gauge() {
    let app = spawn_app().await;
    let text = app.metrics().await;
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let build = format!(
        "alerthub_build_info{{profile=\"{profile}\",version=\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(value(&text, &build), 1.0);
    assert_eq!(value(&text, "alerthub_database_up"), 1.0);
    // A node without REDIS_URL has no Redis to be down.
    for name in ["alerthub_redis_up", "alerthub_ingest_pending"] {
        assert!(
            !text.lines().any(|l| l.starts_with(name)),
            "{name} on a node without Redis:\n{text}"
        );
    }
}

#[actix_web::test]
async fn every_labelled_series_exists_at_zero_from_start() {
    let app = spawn_app().await;
    let text = app.metrics().await;
    let expected = [
        (
            "alerthub_rejected_handshakes_total",
            "reason",
            &[
                "authentication_failed",
                "user_mismatch",
                "rate_limited",
                "too_many_sessions",
                "origin",
                "unavailable",
            ][..],
        ),
        (
            "alerthub_sessions_closed_total",
            "reason",
            &[
                "client",
                "heartbeat",
                "slow_consumer",
                "protocol",
                "rate_limited",
                "shutdown",
                "expired",
                "revoked",
                "signed_out",
            ][..],
        ),
        (
            "alerthub_opaque_token_checks_total",
            "outcome",
            &["forged", "cached", "queried", "throttled"][..],
        ),
    ];
    let mut series = 0;
    for (name, label, values) in expected {
        series += values.len();
        for v in values {
            assert_eq!(value(&text, &format!("{name}{{{label}=\"{v}\"}}")), 0.0);
        }
    }
    // And no labelled family of alerthub's has a label value beyond those.
    let labelled = text
        .lines()
        .filter(|l| l.starts_with("alerthub_") && l.contains("{"))
        .filter(|l| !l.starts_with("alerthub_build_info") && !l.contains("_bucket{"))
        .count();
    assert_eq!(labelled, series, "{text}");
}

#[actix_web::test]
async fn head_metrics_answers_without_a_body() {
    let app = spawn_app().await;
    let mut response = app
        .http
        .head(app.url("/metrics"))
        .send()
        .await
        .expect("HEAD /metrics answers");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers().get("content-type").unwrap();
    assert!(
        content_type.to_str().unwrap().starts_with("text/plain"),
        "{content_type:?}"
    );
    assert!(response.body().await.unwrap().is_empty());
    // Other methods are refused as on every documented path: 405 with Allow.
    let response = app.send(app.http.delete(app.url("/metrics")), None).await;
    assert_error(&response, 405, "method_not_allowed");
    assert!(
        response.1.to_string().contains("GET, HEAD"),
        "{:?}",
        response.1
    );
}
