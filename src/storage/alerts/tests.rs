//! The grouped insert, the list's query plan, the refusal and the
//! migrations that reshaped the table, of `storage::alerts` on SQLite.

use std::sync::{Arc, Mutex};

use super::*;
use diesel::connection::SimpleConnection;

#[test]
fn sqlite_stores_a_group_in_one_multi_row_statement() {
    // With a DEFAULT among the values diesel would silently fall back to
    // one INSERT per row; count the INSERTs SQLite actually runs.
    let (mut conn, inserts) = counting_inserts();
    let rows = [plain_row("a"), plain_row("b"), plain_row("a")];
    let stored = insert_alerts(&mut conn, &rows).unwrap();
    assert_eq!(*inserts.lock().unwrap(), 1);
    let created: Vec<bool> = stored.iter().map(|(_, created)| *created).collect();
    assert_eq!(created, [true, true, false]);
    assert_eq!(stored[0].0.id, stored[2].0.id);
    assert!(stored[0].0.id < stored[1].0.id);
    assert_eq!(stored[0].0.description, None);
}

#[test]
fn a_filtered_page_walks_the_user_index_without_sorting() {
    // The list's SQL shape (severity filter, unread, cursor, newest
    // first): SQLite must walk (user_id, id) backwards, not scan or sort.
    let details = crate::storage::pool::sqlite_query_plan(
        "SELECT id FROM alerts WHERE user_id = '1' AND read = 0 \
         AND severity IN ('HIGH', 'CRITICAL') AND id < 100 ORDER BY id DESC LIMIT 51",
    );
    assert!(
        details
            .iter()
            .any(|d| d.contains("USING INDEX alerts_user")),
        "{details:?}"
    );
    assert!(
        !details.iter().any(|d| d.contains("TEMP B-TREE")),
        "{details:?}"
    );
}

/// A migrated in-memory SQLite database, and how many INSERT statements
/// it has run so far.
fn counting_inserts() -> (AnyConnection, Arc<Mutex<usize>>) {
    let AnyConnection::Sqlite(mut c) = crate::storage::pool::in_memory_sqlite() else {
        unreachable!()
    };
    let inserts = Arc::new(Mutex::new(0));
    let seen = inserts.clone();
    c.set_instrumentation(move |event: diesel::connection::InstrumentationEvent<'_>| {
        if let diesel::connection::InstrumentationEvent::StartQuery { query, .. } = event
            && query.to_string().starts_with("INSERT")
        {
            *seen.lock().unwrap() += 1;
        }
    });
    (AnyConnection::Sqlite(c), inserts)
}

fn sqlite_with(sql: &str) -> AnyConnection {
    let mut conn = crate::storage::pool::in_memory_sqlite();
    conn.batch_execute(sql).unwrap();
    conn
}

fn plain_row(breach: &str) -> NewAlertRow {
    let now = chrono::Utc::now().naive_utc();
    NewAlertRow {
        user_id: "1".into(),
        breach_id: breach.into(),
        title: "t".into(),
        severity: "LOW".into(),
        confidence: 0.5,
        detected_at: now,
        description: None,
        source: None,
        read: false,
        created_at: now,
        push_due_at: None,
    }
}

#[test]
fn a_row_the_database_refuses_is_a_refusal_and_its_group_stores_nothing() {
    // A trigger's RAISE is an error diesel does not classify, like
    // PostgreSQL's data exceptions: the probe settles it.
    let mut conn = sqlite_with(
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON alerts \
         WHEN NEW.breach_id = 'POISON' BEGIN SELECT RAISE(ABORT, 'poison'); END;",
    );
    let e = insert_alerts(&mut conn, &[plain_row("a"), plain_row("POISON")]).unwrap_err();
    assert!(e.is_refusal(), "{e}");
    assert!(e.duplicate().is_refusal());
    assert_eq!(unread_count(&mut conn, "1").unwrap(), 0);
    // The probe left nothing behind, and good rows still go in.
    assert_eq!(
        insert_alerts(&mut conn, &[plain_row("a")]).unwrap().len(),
        1
    );
    assert_eq!(unread_count(&mut conn, "_alerthub_probe").unwrap(), 0);
}

#[test]
fn a_database_that_takes_no_row_at_all_is_unavailable_not_a_refusal() {
    let mut conn = sqlite_with(
        "CREATE TRIGGER refuse_all BEFORE INSERT ON alerts \
         BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
    );
    let e = insert_alerts(&mut conn, &[plain_row("a")]).unwrap_err();
    assert!(!e.is_refusal(), "{e}");
    assert!(!e.duplicate().is_refusal());
}

#[test]
fn a_row_binds_one_variable_per_column() {
    // `NEW_ALERT_COLUMNS` sizes the INSERT chunks: it must be what diesel
    // really binds per row, or a large group exceeds SQLite's variables.
    let query = diesel::insert_into(alerts::table).values(vec![plain_row("a")]);
    let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&query).to_string();
    let sql = sql.split(" -- binds").next().unwrap_or_default();
    assert_eq!(sql.matches('?').count(), NEW_ALERT_COLUMNS, "{sql}");
}

#[test]
fn sqlite_stores_the_writers_largest_group_in_full_statements() {
    // The writer groups up to 5,000 alerts (`actors::writer::MAX_GROUP`).
    // A chunk over SQLite's 32,766 variables fails as a refusal, and the
    // writer then stores the group's requests one commit each.
    let (mut conn, inserts) = counting_inserts();
    let rows: Vec<NewAlertRow> = (0..5_000).map(|i| plain_row(&i.to_string())).collect();
    let stored = insert_alerts(&mut conn, &rows).unwrap();
    assert_eq!(stored.len(), 5_000);
    assert!(stored.iter().all(|(_, created)| *created));
    assert_eq!(*inserts.lock().unwrap(), 5_000_usize.div_ceil(SQLITE_CHUNK));
    assert_eq!(unread_count(&mut conn, "1").unwrap(), 5_000);
}

#[test]
fn the_postgresql_insert_fills_the_columns_diesel_would() {
    // `postgres::Group` lists `NewAlertRow`'s columns by hand; a field
    // added to the row must be added there too.
    let query = diesel::insert_into(alerts::table).values(vec![plain_row("a")]);
    let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&query).to_string();
    let columns = sql
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(columns, _)| columns.replace('`', ""))
        .unwrap_or_default();
    assert_eq!(columns, postgres::INSERTED, "{sql}");
}

#[test]
fn the_postgresql_insert_answers_the_columns_diesel_selects() {
    // The statement names `AlertRow`'s columns by hand (twice: the inserted
    // rows and the stored ones are one UNION), and they are read by name.
    let query = alerts::table.select(AlertRow::as_select());
    let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&query).to_string();
    let columns: Vec<String> = sql
        .trim_start_matches("SELECT ")
        .split(" FROM")
        .next()
        .unwrap_or_default()
        .split(", ")
        .map(|c| c.replace("`alerts`.", "").replace('`', ""))
        .collect();
    assert_eq!(columns, postgres::ANSWERED, "{sql}");
}

fn assert_counts(conn: &mut AnyConnection, expected: [i64; 2]) {
    for (user, n) in ["1", "2"].into_iter().zip(expected) {
        assert_eq!(
            count_unread_rows(conn, user).unwrap(),
            n,
            "user {user}: rows"
        );
        assert_eq!(
            unread_count(conn, user).unwrap(),
            n,
            "user {user}: kept count"
        );
    }
}

pub(super) fn row_of(user: &str, breach: &str) -> NewAlertRow {
    NewAlertRow {
        user_id: user.into(),
        ..plain_row(breach)
    }
}

#[test]
fn sqlite_keeps_each_users_unread_count_through_every_change() {
    let mut conn = crate::storage::pool::in_memory_sqlite();
    let rows = ["1a", "1b", "1a", "2a", "2b", "2c"].map(|r| row_of(&r[..1], &r[1..]));
    let stored = insert_alerts(&mut conn, &rows).unwrap();
    // The repeated (user, breach) stores nothing, so counts nothing.
    assert_counts(&mut conn, [2, 3]);
    let first = stored[0].0.id;
    assert_eq!(mark_read(&mut conn, "1", first).unwrap().unwrap().1, 1);
    // Read again: no change.
    assert_eq!(mark_read(&mut conn, "1", first).unwrap().unwrap().1, 1);
    assert_counts(&mut conn, [1, 3]);
    assert_eq!(mark_all_read(&mut conn, "2").unwrap(), 3);
    assert_counts(&mut conn, [1, 0]);
    // Writers other than the server (the CLI, an operator's SQL) too.
    conn.batch_execute("UPDATE alerts SET read = 0 WHERE user_id = '2' AND breach_id <> 'c';")
        .unwrap();
    assert_counts(&mut conn, [1, 2]);
    conn.batch_execute("DELETE FROM alerts WHERE breach_id = 'b';")
        .unwrap();
    assert_counts(&mut conn, [0, 1]);
    let (page, unread) = list_alerts(&mut conn, "2", &AlertFilter::default(), 50).unwrap();
    assert_eq!((page.len(), unread), (2, 1));
}

#[test]
fn sqlite_counts_what_was_unread_before_the_counter_existed() {
    // The database as it was before the counter's migration.
    let mut conn = sqlite_before("20261207000002");
    let rows = ["1a", "1b", "1c", "2a"].map(|r| row_of(&r[..1], &r[1..]));
    insert_alerts(&mut conn, &rows).unwrap();
    conn.batch_execute("UPDATE alerts SET read = 1 WHERE breach_id = 'c';")
        .unwrap();
    let mut conn = migrate_pending(conn);
    assert_counts(&mut conn, [2, 1]);
}

/// A migrated in-memory SQLite database with every migration from
/// `version` (as diesel spells it: `20261207000002`) on reverted: the
/// schema an older server left behind.
fn sqlite_before(version: &str) -> AnyConnection {
    use diesel_migrations::MigrationHarness;
    let AnyConnection::Sqlite(mut c) = crate::storage::pool::in_memory_sqlite() else {
        unreachable!()
    };
    loop {
        let reverted = c
            .revert_last_migration(crate::storage::pool::SQLITE_MIGRATIONS)
            .unwrap();
        if reverted.to_string().starts_with(version) {
            return AnyConnection::Sqlite(c);
        }
    }
}

/// Runs the migrations `sqlite_before` reverted, as a newer server does at
/// its start.
fn migrate_pending(conn: AnyConnection) -> AnyConnection {
    use diesel_migrations::MigrationHarness;
    let AnyConnection::Sqlite(mut c) = conn else {
        unreachable!()
    };
    c.run_pending_migrations(crate::storage::pool::SQLITE_MIGRATIONS)
        .unwrap();
    AnyConnection::Sqlite(c)
}

#[derive(diesel::QueryableByName, Debug, PartialEq)]
struct Kept {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    user_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    breach_id: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    read: bool,
}

fn kept_rows(conn: &mut AnyConnection) -> Vec<Kept> {
    let AnyConnection::Sqlite(c) = conn else {
        unreachable!()
    };
    diesel::sql_query("SELECT id, user_id, breach_id, read FROM alerts ORDER BY id")
        .load(c)
        .unwrap()
}

#[test]
fn sqlite_rebuilds_the_table_for_the_breach_first_pair_keeping_rows_ids_and_sequence() {
    let mut conn = sqlite_before("20261207000003");
    let rows = ["1a", "1b", "2a", "2b", "1z"].map(|r| row_of(&r[..1], &r[1..]));
    let stored = insert_alerts(&mut conn, &rows).unwrap();
    let last = stored[4].0.id;
    // The newest alert is gone: its id must not come back.
    conn.batch_execute("UPDATE alerts SET read = 1 WHERE breach_id = 'b'; DELETE FROM alerts WHERE breach_id = 'z';")
        .unwrap();
    let before = kept_rows(&mut conn);
    let mut conn = migrate_pending(conn);
    assert_eq!(kept_rows(&mut conn), before);
    assert_counts(&mut conn, [1, 1]);
    // The pair is still unique whichever column leads: a stored pair is
    // answered as stored, a new one gets an id past every id given before.
    // (The new one first: a skipped row uses up an id too.)
    let new = insert_alerts(&mut conn, &[row_of("2", "c")]).unwrap();
    assert!(new[0].1 && new[0].0.id > last, "{new:?}");
    let again = insert_alerts(&mut conn, &[row_of("1", "a")]).unwrap();
    assert_eq!((again[0].0.id, again[0].1), (stored[0].0.id, false));
    assert_counts(&mut conn, [1, 2]);
    assert_eq!(mark_all_read(&mut conn, "2").unwrap(), 2);
    assert_counts(&mut conn, [1, 0]);
    // The pair's lookup and the per-user pages use an index each.
    let pair = crate::storage::pool::sqlite_query_plan_on(
        &mut conn,
        "SELECT id FROM alerts WHERE user_id = '1' AND breach_id = 'a'",
    );
    assert!(
        pair.iter().any(|d| d.contains("sqlite_autoindex_alerts")),
        "{pair:?}"
    );
    let page = crate::storage::pool::sqlite_query_plan_on(
        &mut conn,
        "SELECT id FROM alerts WHERE user_id = '1' ORDER BY id DESC LIMIT 51",
    );
    assert!(
        page.iter().any(|d| d.contains("alerts_user_id_read")),
        "{page:?}"
    );
}

#[test]
fn sqlite_the_pairs_index_leads_with_the_breach() {
    let mut conn = crate::storage::pool::in_memory_sqlite();
    let AnyConnection::Sqlite(c) = &mut conn else {
        unreachable!()
    };
    #[derive(diesel::QueryableByName)]
    struct Column {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let columns: Vec<String> = diesel::sql_query(
        "SELECT ii.name FROM pragma_index_list('alerts') AS il, pragma_index_info(il.name) AS ii \
         WHERE il.\"unique\" = 1 AND il.origin = 'u' ORDER BY ii.seqno",
    )
    .load::<Column>(c)
    .unwrap()
    .into_iter()
    .map(|c| c.name)
    .collect();
    assert_eq!(columns, ["breach_id", "user_id"]);
}
