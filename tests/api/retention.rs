//! Contract §7, retention: with `ALERTHUB_RETENTION_DAYS`, read alerts older
//! than that are deleted in the background in small steps; unread ones
//! stay however old; ids never come back; triggers keep their latency while
//! a purge runs. A "day" is shortened to one second through the test-only
//! `--retention-unit-secs` (`ALERTHUB_RETENTION_UNIT_SECS`).

use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::json;

use alerthub::models::schema::alerts;
use alerthub_test_support::*;

/// A server that keeps read alerts for `secs` seconds and sweeps often.
async fn app_keeping(secs: &str, window: i64, pause_ms: u64) -> TestApp {
    spawn_app_with(
        &["--retention-days", secs, "--retention-unit-secs", "1"],
        |s| {
            s.limits.retention_sweep_every = Duration::from_millis(100);
            s.limits.retention_window = window;
            s.limits.retention_pause = Duration::from_millis(pause_ms);
        },
    )
    .await
}

fn stored_for(app: &TestApp, user: &str) -> i64 {
    let mut conn = app.storage();
    alerts::table
        .filter(alerts::user_id.eq(user))
        .count()
        .get_result(&mut *conn)
        .unwrap()
}

async fn deleted(app: &TestApp) -> u64 {
    let text = app.metrics().await;
    text.lines()
        .find_map(|l| l.strip_prefix("alerthub_retention_deleted_total "))
        .unwrap_or_else(|| panic!("no retention counter in:\n{text}"))
        .parse::<f64>()
        .unwrap() as u64
}

async fn read_all(app: &TestApp, user: &str) {
    let token = format!("Bearer {}", jwt(user));
    let (status, body) = app
        .post_as("/api/v1/alerts/read-all", Some(&token), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
}

/// One trigger's round trip.
async fn timed_trigger(app: &TestApp, breach: &str) -> Duration {
    let started = Instant::now();
    let (status, body) = app.trigger(alert_body("probe", breach)).await;
    assert_eq!(status, 201, "{body}");
    started.elapsed()
}

fn summary(name: &str, mut v: Vec<Duration>) -> Duration {
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q) as usize];
    let max = *v.last().unwrap();
    // On the real stderr, so `--nocapture` shows the figures.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "retention: trigger round trip {name}: n={} p50={:?} p99={:?} max={max:?}",
        v.len(),
        at(0.5),
        at(0.99)
    );
    max
}

#[actix_web::test]
async fn old_read_alerts_go_unread_stay_and_triggers_keep_their_latency() {
    const READ: usize = 10_000;
    let app = app_keeping("2", 200, 10).await;
    app.create_many("unread", "u", 5).await;
    app.create_many("reader", "r", READ).await;

    let mut before = Vec::new();
    for i in 0..20 {
        before.push(timed_trigger(&app, &format!("before-{i}")).await);
    }
    assert_eq!(deleted(&app).await, 0, "nothing read yet, nothing deleted");

    read_all(&app, "reader").await;
    let (mut during, mut n) = (Vec::new(), 0);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let gone_before = deleted(&app).await;
        if gone_before as usize >= READ {
            break;
        }
        assert!(Instant::now() < deadline, "purge stuck at {gone_before}");
        let took = timed_trigger(&app, &format!("during-{n}")).await;
        n += 1;
        if gone_before > 0 || deleted(&app).await > gone_before {
            during.push(took);
        }
    }
    assert_eq!(deleted(&app).await as usize, READ);
    assert!(
        during.len() >= 5,
        "only {} triggers overlapped the purge",
        during.len()
    );
    let base = summary("before the purge", before);
    let worst = summary("during the purge", during);
    // Generous: the machine is shared; a stalled trigger would wait for the
    // whole purge (seconds), or time out.
    assert!(
        worst < Duration::from_secs(2).max(base * 10),
        "a trigger took {worst:?} during the purge"
    );

    assert_eq!(stored_for(&app, "reader"), 0);
    // Unread alerts stay, however old (these are older than the deleted ones).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stored_for(&app, "unread"), 5);
    assert_eq!(stored_for(&app, "probe"), 20 + n as i64);
}

#[actix_web::test]
async fn ids_keep_increasing_after_the_newest_alerts_are_deleted() {
    let app = app_keeping("1", 500, 1).await;
    let ids = app.create_many("u", "b", 3).await;
    read_all(&app, "u").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while deleted(&app).await < 3 {
        assert!(Instant::now() < deadline, "never purged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The table is empty now: an id must still not come back.
    assert_eq!(stored_for(&app, "u"), 0);
    // The (user, breach) pair is free again once its alert is gone: a new
    // alert, with a new id (idempotency lasts as long as the alert is kept).
    let (status, body) = app.trigger(alert_body("u", "b-2")).await;
    assert_eq!(status, 201, "{body}");
    let again = body["alert"]["alert_id"].as_i64().unwrap();
    assert!(again > ids[2], "id {again} reused (deleted ids {ids:?})");
    let next = app.create_alert("u", "new").await;
    assert!(next > again);
}

#[actix_web::test]
async fn without_retention_read_alerts_stay() {
    let app = spawn_app_with(&[], |s| {
        s.limits.retention_sweep_every = Duration::from_millis(50);
    })
    .await;
    app.create_many("u", "b", 3).await;
    read_all(&app, "u").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(stored_for(&app, "u"), 3);
    assert_eq!(deleted(&app).await, 0);
}
