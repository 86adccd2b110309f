//! The trigger's grouped insert on PostgreSQL (`src/storage/alerts/postgres.rs`),
//! at the storage layer, on a real database: one prepared statement per
//! connection, the user lock taken before any id is drawn, a group that
//! raced another transaction for one of its pairs, and the writer's held
//! connection (`src/storage/held.rs`): one round trip per group, and a
//! connection that died costs no trigger.

use std::time::Duration;

use alerthub::models::NewAlertRow;
use alerthub::storage::{
    AnyConnection, DatabaseUrl, DbConn, DbHealth, HeldConnection, PoolOptions, Retry,
    connect_pools, insert_alerts,
};
use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::{PgConnection, QueryableByName, RunQueryDsl};

use alerthub_test_support::*;

/// A test app on PostgreSQL, or `None` (and a SKIPPED line) on SQLite.
async fn postgresql(test: &str) -> Option<TestApp> {
    let app = spawn_app().await;
    if app.database_url.starts_with("postgres") {
        return Some(app);
    }
    skipped(
        test,
        "PostgreSQL only: set ALERTHUB_TEST_DATABASE_URL=postgres://…",
    );
    None
}

fn pg(conn: &mut DbConn) -> &mut PgConnection {
    match &mut **conn {
        AnyConnection::Postgresql(pg) => pg,
        AnyConnection::Sqlite(_) => unreachable!("a postgres:// URL gives a PostgreSQL connection"),
    }
}

#[derive(QueryableByName)]
struct Number {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// One `bigint` named `n`, from a PostgreSQL connection.
pub(crate) fn number(conn: &mut DbConn, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Number>(pg(conn))
        .unwrap()
        .n
}

fn row(user: &str, breach: &str) -> NewAlertRow {
    let now = chrono::Utc::now().naive_utc();
    NewAlertRow {
        user_id: user.into(),
        breach_id: breach.into(),
        title: "t".into(),
        severity: "LOW".into(),
        confidence: 0.5,
        detected_at: now,
        description: Some("d".into()),
        source: None,
        read: false,
        created_at: now,
        push_due_at: None,
    }
}

/// The pairs a group was answered with: (breach, id, created).
type Answers = Vec<(String, i64, bool)>;

/// Stores `rows` on a connection of its own, on a thread of its own (the
/// insert blocks on locks the test holds).
fn insert_in_background(app: &TestApp, rows: Vec<NewAlertRow>) -> std::thread::JoinHandle<Answers> {
    let mut conn = app.storage();
    std::thread::spawn(move || {
        insert_alerts(&mut conn, &rows)
            .unwrap()
            .into_iter()
            .map(|(row, created)| (row.breach_id, row.id, created))
            .collect()
    })
}

#[actix_web::test]
async fn postgresql_parses_the_grouped_insert_once_per_connection() {
    let Some(app) = postgresql("postgresql_parses_the_grouped_insert_once_per_connection").await
    else {
        return;
    };
    // A connection as the server's trigger gets one (its pool of one).
    let mut conn = app.pools().inserts.get().unwrap();
    let mut next = 0;
    // (A group of one goes another way first: the test after this one.)
    for size in [2, 3, 6] {
        let group: Vec<NewAlertRow> = (next..next + size)
            .map(|i| row("12", &format!("b-{i}")))
            .collect();
        next += size;
        let stored = insert_alerts(&mut conn, &group).unwrap();
        // The group's order is the ids' order (the replay cursor).
        let ids: Vec<i64> = stored.iter().map(|(row, _)| row.id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        assert!(stored.iter().all(|(_, created)| *created));
        // Lock, insert and answer: one statement, prepared once, whatever
        // the size, and planned once (a plan for each run's arrays would
        // cost more than the rest of the run: `DbPools::inserts`).
        let prepared = number(
            &mut conn,
            "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE '%unnest(%'",
        );
        assert_eq!(prepared, 1, "after a group of {size}");
        let custom = number(
            &mut conn,
            "SELECT custom_plans AS n FROM pg_prepared_statements WHERE statement LIKE '%unnest(%'",
        );
        assert_eq!(custom, 0, "after a group of {size}");
    }
    // A group with a pair stored before and a pair twice: one answer per
    // row, created only for the first mention of a new pair.
    let again = [row("12", "b-0"), row("12", "new"), row("12", "new")];
    let stored = insert_alerts(&mut conn, &again).unwrap();
    let created: Vec<bool> = stored.iter().map(|(_, created)| *created).collect();
    assert_eq!(created, [false, true, false]);
    assert_eq!(stored[1].0.id, stored[2].0.id);
    assert!(stored[0].0.id < stored[1].0.id);
    assert_eq!(number(&mut conn, "SELECT count(*) AS n FROM alerts"), 12);
}

#[actix_web::test]
async fn postgresql_stores_a_group_of_one_with_a_one_row_statement() {
    let Some(app) = postgresql("postgresql_stores_a_group_of_one_with_a_one_row_statement").await
    else {
        return;
    };
    let mut conn = app.pools().inserts.get().unwrap();
    let one_row = "SELECT count(*) AS n FROM pg_prepared_statements \
                   WHERE statement LIKE '%SELECT pg_advisory_xact_lock(hashtext($1))%'";
    let grouped =
        "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE '%unnest(%'";
    let mut ids = Vec::new();
    for i in 0..3 {
        let stored = insert_alerts(&mut conn, &[row("16", &format!("one-{i}"))]).unwrap();
        assert!(stored[0].1, "created");
        ids.push(stored[0].0.id);
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    // Prepared once, planned once; the grouped statement was not needed.
    assert_eq!(number(&mut conn, one_row), 1);
    assert_eq!(
        number(
            &mut conn,
            "SELECT custom_plans AS n FROM pg_prepared_statements \
             WHERE statement LIKE '%SELECT pg_advisory_xact_lock(hashtext($1))%'"
        ),
        0
    );
    assert_eq!(number(&mut conn, grouped), 0);
    // A pair stored before inserts nothing there; the grouped statement
    // answers the stored row.
    let again = insert_alerts(&mut conn, &[row("16", "one-1")]).unwrap();
    assert_eq!((again[0].0.id, again[0].1), (ids[1], false));
    assert_eq!(again[0].0.breach_id, "one-1");
    assert_eq!(number(&mut conn, grouped), 1);
    assert_eq!(
        number(
            &mut conn,
            "SELECT count(*) AS n FROM alerts WHERE user_id = '16'"
        ),
        3
    );
}

#[actix_web::test]
async fn postgresql_takes_the_user_lock_before_drawing_an_id() {
    // If the statement drew its ids before it held the user's lock, an id
    // could commit after a higher one of the same user, and a replay from
    // the higher one would skip it. Hold the lock, and watch the sequence.
    let Some(app) = postgresql("postgresql_takes_the_user_lock_before_drawing_an_id").await else {
        return;
    };
    let mut holder = app.storage();
    insert_alerts(&mut holder, &[row("13", "first")]).unwrap();
    let drawn = "SELECT pg_sequence_last_value('alerts_id_seq') AS n";
    let before = number(&mut holder, drawn);
    diesel::sql_query("SELECT pg_advisory_lock(hashtext($1))::text AS n")
        .bind::<Text, _>("13")
        .execute(pg(&mut holder))
        .unwrap();
    let waiting = insert_in_background(&app, vec![row("13", "second")]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !waiting.is_finished(),
        "the insert did not wait for the user's lock"
    );
    assert_eq!(
        number(&mut holder, drawn),
        before,
        "an id was drawn before the lock was held"
    );
    pg(&mut holder)
        .batch_execute("SELECT pg_advisory_unlock_all()")
        .unwrap();
    let answers = waiting.join().unwrap();
    assert_eq!(answers, [("second".to_string(), before + 1, true)]);
}

/// Another transaction takes `user`'s lock and stores (`user`, "raced");
/// `group` is stored meanwhile, waits for the lock, and is answered after
/// the other commits. Returns its answers, the raced row's id, and the
/// other transaction's connection.
fn lose_a_race(app: &TestApp, user: &str, group: Vec<NewAlertRow>) -> (Answers, i64, DbConn) {
    let mut other = app.storage();
    pg(&mut other)
        .batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock(hashtext('{user}')); \
             INSERT INTO alerts (user_id, breach_id, title, severity, confidence, detected_at, read, created_at) \
             VALUES ('{user}', 'raced', 't', 'LOW', 0.5, now(), false, now())"
        ))
        .unwrap();
    let waiting = insert_in_background(app, group);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !waiting.is_finished(),
        "the insert did not wait for the user's lock"
    );
    pg(&mut other).batch_execute("COMMIT").unwrap();
    let answers = waiting.join().unwrap();
    let raced = number(
        &mut other,
        "SELECT id AS n FROM alerts WHERE breach_id = 'raced'",
    );
    (answers, raced, other)
}

#[actix_web::test]
async fn postgresql_runs_a_group_again_when_another_transaction_stored_its_pair_meanwhile() {
    // Another node's group holds the user's lock and stores ("14", "raced");
    // this group, waiting for the lock, can neither insert that pair nor
    // see it when it gets the lock (its snapshot is older). It must answer
    // the stored row, and still create its other pair exactly once.
    let Some(app) = postgresql(
        "postgresql_runs_a_group_again_when_another_transaction_stored_its_pair_meanwhile",
    )
    .await
    else {
        return;
    };
    let (answers, raced, mut other) =
        lose_a_race(&app, "14", vec![row("14", "raced"), row("14", "mine")]);
    assert_eq!(answers[0], ("raced".to_string(), raced, false));
    assert_eq!((answers[1].0.as_str(), answers[1].2), ("mine", true));
    assert!(answers[1].1 > raced, "{answers:?}");
    assert_eq!(number(&mut other, "SELECT count(*) AS n FROM alerts"), 2);
}

#[actix_web::test]
async fn postgresql_answers_a_group_of_one_that_lost_the_race_for_its_pair() {
    // As the test above, with the one-row statement: it waits for the lock,
    // then finds the pair stored by the winner and inserts nothing; the
    // answer is the winner's row, not created.
    let Some(app) =
        postgresql("postgresql_answers_a_group_of_one_that_lost_the_race_for_its_pair").await
    else {
        return;
    };
    let (answers, raced, mut other) = lose_a_race(&app, "17", vec![row("17", "raced")]);
    assert_eq!(answers, [("raced".to_string(), raced, false)]);
    assert_eq!(number(&mut other, "SELECT count(*) AS n FROM alerts"), 1);
}

/// The inserts' pool as the server builds it, counting every statement its
/// connection runs (`alerthub_db_queries_total`'s counter).
fn counted_inserts(app: &TestApp) -> (HeldConnection, prometheus::IntCounter) {
    let url = DatabaseUrl::parse(&app.database_url).unwrap();
    let options = PoolOptions {
        max_size: 1,
        connect_timeout: Duration::from_secs(5),
    };
    let queries = prometheus::IntCounter::new("queries", "statements run").unwrap();
    let pools = connect_pools(&url, &options, Some(queries.clone())).unwrap();
    (HeldConnection::new(pools.inserts), queries)
}

#[actix_web::test]
async fn postgresql_stores_a_busy_writers_group_in_one_statement() {
    let Some(app) = postgresql("postgresql_stores_a_busy_writers_group_in_one_statement").await
    else {
        return;
    };
    let (mut held, queries) = counted_inserts(&app);
    let health = DbHealth::default();
    // The first group checks its connection out, with the pool's check.
    held.run(&health, Retry::Safe, |c| {
        insert_alerts(c, &[row("14", "b-0")])
    })
    .unwrap();
    assert_eq!(queries.get(), 2, "the pool's SELECT 1, then the insert");
    // Groups that follow within `TRUSTED_FOR` are one statement each: the
    // pool's SELECT 1 would be a second round trip on every alert's way.
    for i in 1..=5 {
        let stored = held
            .run(&health, Retry::Safe, |c| {
                insert_alerts(c, &[row("14", &format!("b-{i}"))])
            })
            .unwrap();
        assert!(stored[0].1);
    }
    assert_eq!(queries.get(), 7);
    // After a pause longer than that, the connection is checked again.
    std::thread::sleep(alerthub::storage::held::TRUSTED_FOR + Duration::from_millis(100));
    held.run(&health, Retry::Safe, |c| {
        insert_alerts(c, &[row("14", "b-6")])
    })
    .unwrap();
    assert_eq!(queries.get(), 9);
}

#[actix_web::test]
async fn postgresql_a_held_connection_that_died_costs_no_group() {
    let Some(app) = postgresql("postgresql_a_held_connection_that_died_costs_no_group").await
    else {
        return;
    };
    let (mut held, _) = counted_inserts(&app);
    let health = DbHealth::default();
    let backend = held
        .run(&health, Retry::Safe, |c| {
            Ok(diesel::sql_query("SELECT pg_backend_pid()::bigint AS n")
                .get_result::<Number>(match c {
                    AnyConnection::Postgresql(pg) => pg,
                    AnyConnection::Sqlite(_) => unreachable!(),
                })?
                .n)
        })
        .unwrap();
    // PostgreSQL ends the held connection's backend (as a restart or an
    // administrator would), and waits until it is gone.
    let mut admin = app.storage();
    let ended = number(
        &mut admin,
        &format!("SELECT pg_terminate_backend({backend}, 5000)::int::bigint AS n"),
    );
    assert_eq!(ended, 1);
    // The next group, well within `TRUSTED_FOR`, fails on the dead
    // connection and is run once more on a connection checked anew.
    let stored = held
        .run(&health, Retry::Safe, |c| {
            insert_alerts(c, &[row("15", "after")])
        })
        .unwrap();
    assert!(stored[0].1, "stored by this call");
    assert_eq!(health.recent(Duration::from_secs(60)), Some(true));
    assert_eq!(
        number(
            &mut admin,
            "SELECT count(*) AS n FROM alerts WHERE user_id = '15'"
        ),
        1
    );
}

#[actix_web::test]
async fn postgresql_a_trigger_right_after_the_writers_connection_died_is_stored_and_pushed() {
    let Some(app) = postgresql(
        "postgresql_a_trigger_right_after_the_writers_connection_died_is_stored_and_pushed",
    )
    .await
    else {
        return;
    };
    let mut ws = app.connect("1").await;
    let first = app.create_alert("1", "first").await;
    assert_eq!(
        ws.expect("breach_alert").await["message"]["alert_id"],
        first
    );
    // The server's connection that last inserted alerts: the writer's.
    let ended = number(
        &mut app.storage(),
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) AS n \
         FROM pg_stat_activity WHERE datname = current_database() \
         AND pid <> pg_backend_pid() AND query LIKE '%INSERT INTO alerts%'",
    );
    assert_eq!(ended, 1);
    let second = app.create_alert("1", "second").await;
    assert_eq!(
        ws.expect("breach_alert").await["message"]["alert_id"],
        second
    );
}

#[actix_web::test]
async fn postgresql_connections_never_compile_a_query() {
    // JIT compiled a catch-up over 500 users at up to 1.5 s of CPU each
    // while a returning shard's catch-up ran (`storage::pool`): the
    // server's connections, of both pools, run without it.
    let Some(app) = postgresql("postgresql_connections_never_compile_a_query").await else {
        return;
    };
    let pools = app.pools();
    for mut conn in [pools.reads.get().unwrap(), pools.inserts.get().unwrap()] {
        let off = number(
            &mut conn,
            "SELECT (current_setting('jit') = 'off')::int::bigint AS n",
        );
        assert_eq!(off, 1);
    }
}
