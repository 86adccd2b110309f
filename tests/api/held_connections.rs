//! The `DbActor`'s held connections (`src/storage/held.rs`,
//! `src/actors/db.rs`): a busy thread's calls skip the pool's check-out
//! `SELECT 1`; a call runs a second time, after its connection died, only
//! if its second run answers as the first (`Retry::Safe`); and the calls of
//! both kinds still answer right after PostgreSQL ended every connection
//! the server held.

use std::cell::Cell;
use std::time::Duration;

use alerthub::storage::{
    DatabaseUrl, DbHealth, HeldConnection, PoolOptions, Retry, StorageError, connect_pools,
};
use serde_json::json;

use alerthub_test_support::metric_count as metric;
use alerthub_test_support::*;

use crate::grouped_insert::number;

const DB_QUERIES: &str = "alerthub_db_queries_total";

/// A test app on PostgreSQL with one `DbActor` thread (so every call meets
/// the connection the last one held), or `None` and a SKIPPED line.
async fn postgresql_with_one_reader(test: &str) -> Option<TestApp> {
    let app = spawn_app_with(&[], |s| s.pool.max_size = 1).await;
    if app.database_url.starts_with("postgres") {
        return Some(app);
    }
    skipped(
        test,
        "PostgreSQL only (SQLite has no check-out query to skip, and its file \
         cannot go away): set ALERTHUB_TEST_DATABASE_URL=postgres://…",
    );
    None
}

/// Runs `outcome` as a call under `retry` on a connection that has just
/// answered; returns how many times it ran.
fn runs_of(
    held: &mut HeldConnection,
    retry: Retry,
    outcome: fn() -> Result<(), StorageError>,
) -> usize {
    let health = DbHealth::default();
    held.run(&health, Retry::Safe, |_| Ok(())).unwrap();
    let runs = Cell::new(0);
    let _ = held.run(&health, retry, |_| {
        runs.set(runs.get() + 1);
        outcome()
    });
    runs.get()
}

#[test]
fn only_a_call_that_may_run_twice_is_run_again_after_a_failure() {
    // Either backend: this is the policy, not the database.
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(dir.path());
    let options = PoolOptions {
        max_size: 1,
        connect_timeout: Duration::from_secs(5),
    };
    let url = DatabaseUrl::parse(&database.url).unwrap();
    let pools = connect_pools(&url, &options, None).unwrap();
    let mut held = HeldConnection::new(pools.reads);
    let lost = || Err(StorageError::Unavailable("connection lost".into()));
    let refused = || Err(StorageError::Refused("bad row".into()));
    // A failure that may have followed the commit: a read or an idempotent
    // write runs once more, on a connection checked out anew ...
    assert_eq!(runs_of(&mut held, Retry::Safe, lost), 2);
    // ... any other write never runs twice (a token created twice, push
    // jobs claimed twice, "revoked: false" for a token it did revoke) ...
    assert_eq!(runs_of(&mut held, Retry::Once, lost), 1);
    // ... and a refusal is the database's answer: it would refuse again.
    assert_eq!(runs_of(&mut held, Retry::Safe, refused), 1);
    assert_eq!(runs_of(&mut held, Retry::Once, refused), 1);
}

#[actix_web::test]
async fn postgresql_a_busy_readers_calls_skip_the_pools_check() {
    let Some(app) =
        postgresql_with_one_reader("postgresql_a_busy_readers_calls_skip_the_pools_check").await
    else {
        return;
    };
    let user = "41";
    let auth = format!("Bearer {}", jwt(user));
    let ids = app.create_many(user, "held", 3).await;
    // Warm the thread's connection, then count what the calls cost.
    let (status, _) = app.get_as("/api/v1/alerts/unread-count", &auth).await;
    assert_eq!(status, 200);
    let before = metric(&app.metrics().await, DB_QUERIES);
    const COUNTS: u64 = 20;
    for _ in 0..COUNTS {
        let (status, body) = app.get_as("/api/v1/alerts/unread-count", &auth).await;
        assert_eq!((status, body["count"].as_i64()), (200, Some(3)));
    }
    let counted = metric(&app.metrics().await, DB_QUERIES) - before;
    // One statement each; with the pool's `SELECT 1` on every call it was
    // two. A scrape of /metrics may check the database once, and a pause of
    // over a second on a slow machine costs one check more.
    assert!(
        counted <= COUNTS + 2,
        "{counted} statements for {COUNTS} counts: the busy thread checked its connection out again"
    );
    // A read is its two statements, the update and the count: no check,
    // and no `BEGIN` and `COMMIT` around them (`storage::mark_read`).
    let before = metric(&app.metrics().await, DB_QUERIES);
    let (status, body) = app
        .post_as(
            &format!("/api/v1/alerts/{}/read", ids[0]),
            Some(&auth),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["alert"]["read"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    let read = metric(&app.metrics().await, DB_QUERIES) - before;
    assert!(read <= 3, "{read} statements for one read");
}

#[actix_web::test]
async fn postgresql_calls_of_both_kinds_answer_right_after_the_held_connections_died() {
    let Some(app) = postgresql_with_one_reader(
        "postgresql_calls_of_both_kinds_answer_right_after_the_held_connections_died",
    )
    .await
    else {
        return;
    };
    let user = "42";
    let auth = format!("Bearer {}", jwt(user));
    let ids = app.create_many(user, "died", 2).await;
    let mut tab = app.connect(user).await;
    let service = format!("Bearer {SERVICE_KEY}");
    let kill = || {
        // PostgreSQL ends every connection the server holds on its database
        // (as a restart or an administrator would) and waits until they are
        // gone.
        let ended = number(
            &mut app.storage(),
            "SELECT count(pg_terminate_backend(pid, 5000))::bigint AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        );
        assert!(ended >= 1, "the reader's connection was open");
    };

    // A read, well within a second of the thread's last answer: run again
    // on a connection checked anew, answered and pushed to the tab.
    tab.send_json(json!({"type": "get_unread_count"})).await;
    assert_eq!(tab.expect("unread_count").await["count"], 2);
    kill();
    tab.send_json(json!({"type": "mark_read", "alert_id": ids[0]}))
        .await;
    let update = tab.expect("alert_update").await;
    assert_eq!(update["message"]["alert_id"], ids[0], "{update}");
    assert_eq!(tab.expect("unread_count").await["count"], 1);

    // A write that must not run twice: on a connection the pool checks
    // first, so it answers as well.
    let (status, _) = app.get_as("/api/v1/alerts/unread-count", &auth).await;
    assert_eq!(status, 200);
    kill();
    let (status, body) = app
        .post_as("/api/v1/tokens", Some(&service), json!({"user_id": user}))
        .await;
    assert_eq!(status, 201, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    kill();
    let (status, body) = app
        .post_as(
            "/api/v1/tokens/revoke",
            Some(&service),
            json!({"token": token}),
        )
        .await;
    assert_eq!((status, &body["revoked"]), (200, &json!(true)), "{body}");
    tab.assert_alive().await;
}
