//! Contract §1, missed-alert replay: `?since=N` sends every newer alert of
//! the user, oldest first and flagged `replayed`, then goes live; at most
//! 1,000 with a `replay_truncated` marker; nothing lost or sent twice while
//! alerts keep arriving.

use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::Duration;

use serde_json::{Value, json};

use alerthub_test_support::*;

/// Sends a ping and returns every text frame before its pong. The session
/// handles no client frame until its replay is out, so right after connecting
/// this is exactly the replay.
async fn until_pong(ws: &mut WsClient) -> Vec<Value> {
    ws.send_json(json!({"type": "ping", "timestamp": "end-of-replay"}))
        .await;
    let mut frames = Vec::new();
    loop {
        let frame = ws.next_json().await;
        if frame["type"] == "pong" && frame["timestamp"] == "end-of-replay" {
            return frames;
        }
        frames.push(frame);
    }
}

/// The ids of replayed `breach_alert` frames, asserting every frame is one.
fn replayed_ids(frames: &[Value]) -> Vec<i64> {
    frames
        .iter()
        .map(|f| {
            assert_eq!(f["type"], "breach_alert", "{f}");
            assert_eq!(f["message"]["replayed"], true, "{f}");
            f["message"]["alert_id"].as_i64().unwrap()
        })
        .collect()
}

fn is_live(frame: &Value) -> bool {
    frame["message"]
        .get("replayed")
        .is_none_or(|r| r == &Value::Bool(false))
}

/// Triggers an alert that must be created; returns the stored alert.
async fn create_stored(app: &TestApp, user: &str, breach: &str, extra: Value) -> Value {
    let mut body = alert_body(user, breach);
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, created) = app.trigger(body).await;
    assert_eq!(status, 201, "{created}");
    created["alert"].clone()
}

#[actix_web::test]
async fn since_replays_newer_alerts_oldest_first_then_goes_live() {
    let app = spawn_app().await;
    let mut stored = Vec::new();
    for i in 0..5 {
        stored.push(
            create_stored(
                &app,
                "1",
                &format!("B-{i}"),
                json!({"description": format!("d{i}"), "source": "scanner"}),
            )
            .await,
        );
        // Another user's alerts in between: never part of user 1's replay.
        app.create_alert("2", &format!("other-{i}")).await;
    }
    let ids: Vec<i64> = stored
        .iter()
        .map(|a| a["alert_id"].as_i64().unwrap())
        .collect();
    let id = |i: usize| ids[i];
    // A read alert is replayed as it is stored now: read.
    let (status, _) = app
        .post_as(
            &format!("/api/v1/alerts/{}/read", id(3)),
            Some(&format!("Bearer {}", jwt("1"))),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    stored[3]["read"] = json!(true);

    let mut ws = app.connect_query("1", &format!("&since={}", id(1))).await;
    let frames = until_pong(&mut ws).await;
    assert_eq!(replayed_ids(&frames), [id(2), id(3), id(4)]);
    for (frame, expected) in frames.iter().zip(&stored[2..]) {
        let message = frame["message"].as_object().unwrap();
        for (key, value) in expected.as_object().unwrap() {
            assert_eq!(message.get(key), Some(value), "field {key}: {frame}");
        }
        assert!(frame["timestamp"].as_str().unwrap().ends_with('Z'));
    }

    // Then live: no replayed flag, no unread_count after it.
    let live = app.create_alert("1", "live").await;
    let frame = ws.expect("breach_alert").await;
    assert_eq!(frame["message"]["alert_id"], live);
    assert!(is_live(&frame), "{frame}");
    app.assert_nothing_queued("1", &mut [&mut ws]).await;
}

#[actix_web::test]
async fn without_since_nothing_is_replayed() {
    let app = spawn_app().await;
    app.create_alert("1", "old").await;
    let mut ws = app.connect("1").await;
    assert_eq!(until_pong(&mut ws).await, Vec::<Value>::new());
}

#[actix_web::test]
async fn since_zero_replays_alerts_from_every_creation_path_once() {
    let app = spawn_app().await;
    let mut expected = Vec::new();
    expected.push(app.create_alert("1", "single-1").await);
    app.create_alert("2", "other-1").await;
    expected.extend(app.create_many("1", "batch", 3).await);
    // A retried trigger is not a new alert and is not replayed twice.
    let (status, again) = app.trigger(alert_body("1", "single-1")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["alert"]["alert_id"], expected[0]);
    // A batch that mixes users and repeats a stored alert.
    let (status, body) = app
        .post_as(
            "/api/v1/alerts/batch",
            Some(&format!("Bearer {SERVICE_KEY}")),
            json!({"alerts": [
                alert_body("2", "other-2"),
                alert_body("1", "mixed-1"),
                alert_body("1", "batch-0"),
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][2]["created"], false, "{body}");
    expected.push(body["results"][1]["alert_id"].as_i64().unwrap());
    expected.push(app.create_alert("1", "single-2").await);

    let mut ws = app.connect_query("1", "&since=0").await;
    let frames = until_pong(&mut ws).await;
    assert_eq!(replayed_ids(&frames), expected);

    // A user with no alerts gets an empty replay.
    let mut ws = app.connect_query("3", "&since=0").await;
    assert_eq!(until_pong(&mut ws).await, Vec::<Value>::new());
}

#[actix_web::test]
async fn since_at_or_beyond_the_newest_replays_nothing() {
    let app = spawn_app().await;
    let mine = app.create_many("1", "mine", 3).await;
    let later_other = app.create_alert("2", "other").await;

    for since in [mine[2], later_other, later_other + 1_000_000] {
        let mut ws = app.connect_query("1", &format!("&since={since}")).await;
        assert_eq!(until_pong(&mut ws).await, Vec::<Value>::new(), "{since}");
    }

    // Past the user's newest but below the next id: goes live normally.
    // Wait for the (empty) replay to finish first: an alert created while
    // the replay still runs may rightly arrive *in* it, marked replayed
    // (contract §1: exactly once, either way), which is not what this
    // checks.
    let mut ws = app
        .connect_query("1", &format!("&since={later_other}"))
        .await;
    assert_eq!(until_pong(&mut ws).await, Vec::<Value>::new());
    let live = app.create_alert("1", "live").await;
    let frame = ws.expect("breach_alert").await;
    assert_eq!(frame["message"]["alert_id"], live);
    assert!(is_live(&frame), "{frame}");
}

/// A `since` larger than every id (the client kept it across a database
/// restore, say) replays nothing, and the session still goes live: alerts
/// created after it connected are not alerts the client already has.
#[actix_web::test]
async fn a_since_beyond_every_id_still_receives_live_alerts() {
    let app = spawn_app().await;
    let old = app.create_alert("1", "old").await;
    let since = old + 1_000_000;
    let mut ws = app.connect_query("1", &format!("&since={since}")).await;
    assert_eq!(until_pong(&mut ws).await, Vec::<Value>::new());
    let live = app.create_alert("1", "after-connect").await;
    let frame = next_within(&mut ws, PATIENCE / 2).await.unwrap_or_else(|| {
        panic!("connected with since={since}; alert {live}, created afterwards, never arrived")
    });
    assert_eq!(frame["type"], "breach_alert", "{frame}");
    assert_eq!(frame["message"]["alert_id"], live, "{frame}");
    assert!(is_live(&frame), "{frame}");
}

#[actix_web::test]
async fn more_than_1000_missed_alerts_replay_the_newest_1000_then_say_so() {
    let app = spawn_app().await;
    let mut ids = app.create_many("1", "bulk", 1005).await;
    assert_eq!(ids.len(), 1005);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase");
    app.create_many("2", "other", 3).await;

    for (round, since) in [0, ids[3]].into_iter().enumerate() {
        // Newer than `since`: 1005 the first time, 1002 the second (the
        // first round's live alert counts too).
        let newer: Vec<i64> = ids.iter().copied().filter(|&id| id > since).collect();
        assert_eq!(newer.len(), [1005, 1002][round]);
        let newest_1000 = &newer[newer.len() - 1000..];

        let mut ws = app.connect_query("1", &format!("&since={since}")).await;
        let mut frames = until_pong(&mut ws).await;
        assert_eq!(frames.len(), 1001, "since={since}");
        let marker = frames.pop().unwrap();
        assert_eq!(
            marker,
            json!({"type": "replay_truncated", "oldest_alert_id": newest_1000[0]}),
            "since={since}"
        );
        assert_eq!(replayed_ids(&frames), newest_1000, "since={since}");

        let live = app.create_alert("1", &format!("live-after-{since}")).await;
        let frame = ws.expect("breach_alert").await;
        assert_eq!(frame["message"]["alert_id"], live);
        assert!(is_live(&frame), "{frame}");
        ids.push(live);
    }
}

#[actix_web::test]
async fn exactly_1000_missed_alerts_are_not_truncated() {
    let app = spawn_app().await;
    let ids = app.create_many("1", "bulk", 1001).await;
    let mut ws = app.connect_query("1", &format!("&since={}", ids[0])).await;
    let frames = until_pong(&mut ws).await;
    assert_eq!(frames.len(), 1000);
    assert_eq!(replayed_ids(&frames), ids[1..]);
}

/// One connection's view in the reconnect storm.
struct Visit {
    since: i64,
    ids: Vec<i64>,
}

/// The next frame, or None if none arrives within `within` (which must be
/// shorter than PATIENCE, after which `next_json` itself panics).
async fn next_within(ws: &mut WsClient, within: Duration) -> Option<Value> {
    tokio::time::timeout(within, ws.next_json()).await.ok()
}

/// Checks one frame of a visit and records its id.
fn record(visit: &mut Visit, seen_live: &mut bool, frame: &Value) {
    assert_eq!(
        frame["type"], "breach_alert",
        "since={}: {frame}",
        visit.since
    );
    let id = frame["message"]["alert_id"].as_i64().unwrap();
    assert!(
        id > visit.since,
        "since={} yet got id {id}: {frame}",
        visit.since
    );
    if let Some(&last) = visit.ids.last() {
        assert!(
            id > last,
            "since={}: id {id} after {last} (ids so far {:?})",
            visit.since,
            visit.ids
        );
    }
    if is_live(frame) {
        *seen_live = true;
    } else {
        assert!(
            !*seen_live,
            "since={}: replayed {id} after a live alert",
            visit.since
        );
    }
    visit.ids.push(id);
}

#[actix_web::test]
async fn reconnecting_with_since_while_alerts_pour_in_loses_and_repeats_nothing() {
    const TOTAL: usize = 300;
    const ROUNDS: usize = 15;
    let app = Rc::new(spawn_app_with(&[], |s| s.connect_limit = 1_000).await);

    // How many of user 1's alerts the producer has created so far.
    let (progress_tx, mut progress) = tokio::sync::watch::channel(0usize);
    let producer = {
        let app = app.clone();
        actix_web::rt::spawn(async move {
            let mut ids = Vec::with_capacity(TOTAL);
            for i in 0..TOTAL {
                ids.push(app.create_alert("1", &format!("storm-{i}")).await);
                progress_tx.send_replace(ids.len());
                // Another user's alerts interleave with the ids.
                if i % 10 == 0 {
                    app.create_alert("2", &format!("storm-other-{i}")).await;
                }
            }
            ids
        })
    };

    let mut visits: Vec<Visit> = Vec::new();
    let mut newest = 0;
    let received = |visits: &[Visit]| visits.iter().map(|v| v.ids.len()).sum::<usize>();
    for round in 0..ROUNDS {
        // Most rounds let a backlog build up first, so that the replay and
        // live alerts race; some reconnect at once.
        let backlog = [0, 4, 9, 15][round % 4];
        let target = (received(&visits) + backlog).min(TOTAL);
        tokio::time::timeout(PATIENCE, progress.wait_for(|&n| n >= target))
            .await
            .expect("the producer makes progress")
            .expect("the producer is running");
        let mut visit = Visit {
            since: newest,
            ids: Vec::new(),
        };
        let mut ws = app.connect_query("1", &format!("&since={newest}")).await;
        let mut seen_live = false;
        // Read a few frames (a different number each time), then drop the
        // socket mid-stream.
        let want = 1 + (round * 7) % 23;
        while visit.ids.len() < want && received(&visits) + visit.ids.len() < TOTAL {
            match next_within(&mut ws, Duration::from_secs(5)).await {
                Some(frame) => record(&mut visit, &mut seen_live, &frame),
                None => break,
            }
        }
        newest = visit.ids.last().copied().unwrap_or(newest);
        visits.push(visit);
        drop(ws);
    }

    let created: Vec<i64> = tokio::time::timeout(Duration::from_secs(120), producer)
        .await
        .expect("the producer finishes")
        .expect("the producer does not panic");
    assert_eq!(created.len(), TOTAL);

    // One last connection collects the rest.
    let mut visit = Visit {
        since: newest,
        ids: Vec::new(),
    };
    let mut ws = app.connect_query("1", &format!("&since={newest}")).await;
    let mut seen_live = false;
    while received(&visits) + visit.ids.len() < TOTAL {
        match next_within(&mut ws, PATIENCE / 2).await {
            Some(frame) => record(&mut visit, &mut seen_live, &frame),
            None => break,
        }
    }
    visits.push(visit);

    let union: BTreeSet<i64> = visits.iter().flat_map(|v| v.ids.iter().copied()).collect();
    let created: BTreeSet<i64> = created.into_iter().collect();
    let missing: Vec<_> = created.difference(&union).collect();
    let foreign: Vec<_> = union.difference(&created).collect();
    assert!(
        missing.is_empty() && foreign.is_empty(),
        "lost {missing:?}; not created for this user {foreign:?}"
    );
    // Each visit started after everything seen before, so a repeat across
    // visits would show up as a count larger than the set.
    assert_eq!(received(&visits), TOTAL, "some id was received twice");
    // And nothing more is on its way.
    let extra = until_pong(&mut ws).await;
    assert_eq!(extra, Vec::<Value>::new());
}
