//! The claim, the lease and the retry of `storage::push`, on SQLite.

use super::*;
use crate::models::NewAlertRow;
use crate::storage::insert_alerts;
use chrono::Duration;

fn setup() -> (AnyConnection, i64, NaiveDateTime) {
    let mut conn = crate::storage::pool::in_memory_sqlite();
    let now = chrono::Utc::now().naive_utc();
    let sub = NewSubscription {
        endpoint: "https://push.example/1".into(),
        p256dh: "k".into(),
        auth: "a".into(),
    };
    create_subscription(&mut conn, "u", &sub, now).unwrap();
    let row = NewAlertRow {
        user_id: "u".into(),
        breach_id: "b".into(),
        title: "t".into(),
        severity: "HIGH".into(),
        confidence: 0.5,
        detected_at: now,
        description: None,
        source: None,
        read: false,
        created_at: now,
        push_due_at: Some(now),
    };
    let id = insert_alerts(&mut conn, &[row]).unwrap()[0].0.id;
    (conn, id, now)
}

#[test]
fn one_node_claims_and_another_takes_over_only_after_the_lease() {
    let (mut conn, id, now) = setup();
    let lease = now + Duration::seconds(60);
    let a = claim_due_pushes(&mut conn, "a", now, lease, 10).unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!((a[0].alert.id, a[0].targets.len()), (id, 1));
    // While A holds the lease, B gets nothing.
    let b = claim_due_pushes(&mut conn, "b", now + Duration::seconds(30), lease, 10);
    assert!(b.unwrap().is_empty());
    // A died: after the lease B takes it over.
    let later = now + Duration::seconds(61);
    let b = claim_due_pushes(&mut conn, "b", later, later + Duration::seconds(60), 10);
    assert_eq!(b.unwrap().len(), 1);
    // A late answer from A changes nothing of B's claim.
    let outcome = PushOutcome {
        alert_id: id,
        sent: vec![a[0].targets[0].id],
        ..PushOutcome::default()
    };
    record_push_outcomes(&mut conn, "a", std::slice::from_ref(&outcome)).unwrap();
    assert_eq!(pending_pushes(&mut conn).unwrap(), 1);
    record_push_outcomes(&mut conn, "b", &[outcome]).unwrap();
    assert_eq!(pending_pushes(&mut conn).unwrap(), 0);
    let much_later = later + Duration::seconds(3600);
    assert!(
        claim_due_pushes(&mut conn, "c", much_later, much_later, 10)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_retry_skips_the_subscriptions_already_served() {
    let (mut conn, id, now) = setup();
    let sub2 = NewSubscription {
        endpoint: "https://push.example/2".into(),
        p256dh: "k".into(),
        auth: "a".into(),
    };
    let (second, _) = create_subscription(&mut conn, "u", &sub2, now)
        .unwrap()
        .unwrap();
    let jobs = claim_due_pushes(&mut conn, "a", now, now + Duration::seconds(60), 10).unwrap();
    assert_eq!(jobs[0].targets.len(), 2);
    let first = jobs[0].targets[0].id;
    let outcome = PushOutcome {
        alert_id: id,
        sent: vec![first],
        retry_at: Some(now),
        ..PushOutcome::default()
    };
    record_push_outcomes(&mut conn, "a", &[outcome]).unwrap();
    let retry = claim_due_pushes(&mut conn, "a", now, now + Duration::seconds(60), 10).unwrap();
    let ids: Vec<i64> = retry[0].targets.iter().map(|t| t.id).collect();
    assert_eq!((ids, retry[0].attempts), (vec![second.id], 1));
}

#[test]
fn a_read_alert_is_never_claimed() {
    let (mut conn, id, now) = setup();
    crate::storage::mark_read(&mut conn, "u", id).unwrap();
    let jobs = claim_due_pushes(&mut conn, "a", now, now + Duration::seconds(60), 10).unwrap();
    assert!(jobs.is_empty());
    assert_eq!(pending_pushes(&mut conn).unwrap(), 0, "settled");
}

#[test]
fn the_earliest_lease_is_one_index_lookup() {
    // Without `alerts_push_lease` (or without the `IS NOT NULL` SQLite needs
    // to use a partial index) every poll reads every alert still due.
    let query = earliest_lease!();
    let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&query).to_string();
    let sql = sql.split(" -- binds").next().unwrap_or_default();
    let details = crate::storage::pool::sqlite_query_plan(sql);
    assert!(
        details
            .iter()
            .any(|d| d.contains("INDEX alerts_push_lease")),
        "{sql}: {details:?}"
    );
}
