//! Contract §1, limits and liveness: frame size and kind, message rate,
//! connect rate, session cap, slow consumers, heartbeat reaping, the
//! listener's backlog, and robustness against garbage.

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use alerthub_test_support::*;

#[actix_web::test]
async fn a_text_frame_over_64_kib_is_closed_with_1009() {
    let app = spawn_app().await;
    let mut ws = app.connect("1").await;
    // Exactly 64 KiB is allowed (it is just not JSON).
    ws.send_text(&"x".repeat(64 * 1024)).await;
    assert_eq!(ws.expect("error").await["code"], "invalid_json");
    ws.send_text(&"x".repeat(64 * 1024 + 1)).await;
    assert_eq!(ws.expect_close().await.code, 1009);
}

#[actix_web::test]
async fn a_binary_frame_is_closed_with_1003() {
    let app = spawn_app().await;
    let mut ws = app.connect("1").await;
    ws.stream
        .send(Message::binary(vec![1u8, 2, 3]))
        .await
        .unwrap();
    assert_eq!(ws.expect_close().await.code, 1003);
}

#[actix_web::test]
async fn messages_over_the_rate_are_dropped_with_rate_limited() {
    let app = spawn_app().await;
    let mut ws = app.connect("1").await;
    let sent = 60;
    for i in 0..sent {
        ws.send_json(json!({"type": "ping", "timestamp": i})).await;
    }
    let (mut pongs, mut limited) = (0, 0);
    for _ in 0..sent {
        let v = ws.next_json().await;
        match v["type"].as_str() {
            Some("pong") => pongs += 1,
            Some("error") if v["code"] == "rate_limited" => limited += 1,
            _ => panic!("unexpected {v}"),
        }
    }
    // The burst of 40 passes; the bucket refills at 20/s, so a few more may.
    assert!((40..sent).contains(&pongs), "pongs {pongs}");
    assert_eq!(pongs + limited, sent);
    // The session stays open and recovers once the bucket refills.
    tokio::time::sleep(Duration::from_millis(200)).await;
    ws.assert_alive().await;
}

#[actix_web::test]
async fn the_eleventh_connect_in_a_minute_is_closed_with_4029() {
    let app = spawn_app().await;
    for _ in 0..10 {
        let ws = app.connect("1").await;
        drop(ws);
    }
    let closed = close_of(&app.ws_url(&format!("/ws/breach-alerts/1/?token={}", jwt("1")))).await;
    assert_eq!(
        closed,
        Closed {
            code: 4029,
            reason: "rate limited".into()
        }
    );
    // Another user is not affected.
    app.connect("2").await.assert_alive().await;
}

#[actix_web::test]
async fn sessions_over_the_cap_are_closed_with_4029() {
    let app = spawn_app_with(
        &["--max-sessions-per-user", "3", "--connect-limit", "100"],
        |_| {},
    )
    .await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(app.connect("1").await);
    }
    let url = app.ws_url(&format!("/ws/breach-alerts/1/?token={}", jwt("1")));
    assert_eq!(
        close_of(&url).await,
        Closed {
            code: 4029,
            reason: "too many sessions".into()
        }
    );
    // When one leaves, a new one fits again (the departure is asynchronous).
    drop(open.pop());
    let mut admitted = false;
    for _ in 0..100 {
        let mut ws = WsClient::open(&url).await.unwrap();
        if ws.next_json().await["type"] == "connection_established" {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(admitted);
}

#[actix_web::test]
async fn the_default_session_cap_is_20() {
    let app = spawn_app_with(&["--connect-limit", "100"], |_| {}).await;
    let mut open = Vec::new();
    for _ in 0..20 {
        open.push(app.connect("1").await);
    }
    let url = app.ws_url(&format!("/ws/breach-alerts/1/?token={}", jwt("1")));
    assert_eq!(close_of(&url).await.code, 4029);
}

#[actix_web::test]
async fn a_session_that_cannot_keep_up_is_closed_with_1013_and_recovers_with_since() {
    // This client reads again once the flood is over: give the close frame
    // that long to reach it (a peer that never reads is reset instead; see
    // the hostile-peer tests).
    let app = spawn_app_with(&[], |s| s.limits.close_deadline = Duration::from_secs(60)).await;
    // A client with a tiny receive buffer that stops reading.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket
        .connect(format!("127.0.0.1:{}", app.port).parse().unwrap())
        .await
        .unwrap();
    let url = app.ws_url(&format!("/ws/breach-alerts/1/?token={}", jwt("1")));
    let (stream, _) =
        tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .unwrap();
    let mut slow = WsClient { stream };
    // A healthy tab of the same user, reading all along, gets everything.
    let mut fast = app.connect("1").await;
    let fast_reader = actix_web::rt::spawn(async move {
        let mut got = 0;
        while got < 3000 {
            if fast.next_json().await["type"] == "breach_alert" {
                got += 1;
            }
        }
        got
    });
    // Large alerts, so that the kernel's socket buffers (megabytes on
    // loopback) fill and the server's own queue has to grow.
    let total = 3000;
    let mut ids = Vec::new();
    for batch in 0..total / 200 {
        let alerts: Vec<Value> = (0..200)
            .map(|i| {
                let mut a = alert_body("1", &format!("flood-{batch}-{i}"));
                a["description"] = json!("d".repeat(4000));
                a
            })
            .collect();
        ids.extend(app.post_batch(alerts).await);
    }

    assert_eq!(fast_reader.await.unwrap(), total);
    // The slow one gets a prefix, then 1013.
    let (texts, closed) = slow.drain_until_close().await;
    assert_eq!(closed.code, 1013, "after {} frames", texts.len());
    let alerts: Vec<i64> = texts
        .iter()
        .filter(|v| v["type"] == "breach_alert")
        .map(|v| v["message"]["alert_id"].as_i64().unwrap())
        .collect();
    assert!(alerts.len() < total, "the slow session got everything");
    assert!(
        app.metrics()
            .await
            .contains("alerthub_slow_consumers_total 1")
    );

    // Nothing is lost: reconnecting with since replays the rest.
    let last = alerts.last().copied().unwrap_or(0);
    let mut again = app.connect_query("1", &format!("&since={last}")).await;
    let mut replayed = Vec::new();
    while replayed.len() < ids.iter().filter(|id| **id > last).count().min(1000) {
        let v = again.expect("breach_alert").await;
        assert_eq!(v["message"]["replayed"], true);
        replayed.push(v["message"]["alert_id"].as_i64().unwrap());
    }
    assert!(replayed.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(replayed.last().copied(), ids.last().copied());
}

#[actix_web::test]
async fn a_silent_client_is_reaped_with_1001_and_a_pinging_one_is_kept() {
    let app = spawn_app_with(&[], |s| {
        s.limits.heartbeat_interval = Duration::from_millis(100);
        s.limits.client_timeout = Duration::from_millis(500);
    })
    .await;
    let mut silent = app.connect("1").await;
    let mut lively = app.connect("1").await;
    // The lively client keeps reading, so its library answers every Ping.
    let mut pings = 0;
    let until = tokio::time::Instant::now() + Duration::from_millis(1200);
    while tokio::time::Instant::now() < until {
        if let Ok(Some(Ok(Message::Ping(_)))) =
            tokio::time::timeout_at(until, futures_util::StreamExt::next(&mut lively.stream)).await
        {
            pings += 1;
            futures_util::SinkExt::flush(&mut lively.stream)
                .await
                .unwrap();
        }
    }
    assert!(pings >= 3, "the server pings every interval ({pings})");
    lively.assert_alive().await;
    // The silent one never answered: it was closed with 1001.
    let closed = silent.expect_close().await;
    assert_eq!(closed.code, 1001);
}

#[actix_web::test]
async fn garbage_from_one_client_does_not_disturb_another_user() {
    let app = spawn_app_with(&[], |s| {
        s.limits.messages_per_second = 100_000;
        s.limits.message_burst = 100_000;
    })
    .await;
    let mut victim = app.connect("2").await;
    let mut attacker = app.connect("1").await;
    // A deterministic stream of hostile frames: broken JSON, wrong types,
    // deep nesting, huge numbers, control characters.
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let fixed = [
        "".to_string(),
        "null".into(),
        "{\"type\":null}".into(),
        format!("{}{}", "[".repeat(5000), "]".repeat(5000)),
        "{\"type\":\"mark_read\",\"alert_id\":1e308}".into(),
        "{\"type\":\"mark_read\",\"alert_id\":-9223372036854775808}".into(),
        "{\"type\":\"ping\",\"timestamp\":\"\\u0000\"}".into(),
        "{\"type\":\"get_unread_count\",\"type\":\"dance\"}".into(),
    ];
    let mut frames: Vec<String> = fixed.to_vec();
    for _ in 0..200 {
        let len = (next() % 80) as usize;
        let s: String = (0..len)
            .map(|_| char::from_u32((next() % 0x7f) as u32).unwrap_or('?'))
            .collect();
        frames.push(s);
    }
    for f in &frames {
        attacker.send_text(f).await;
    }
    let mut answered = 0;
    while answered < frames.len() {
        let v: Value = attacker.next_json().await;
        assert!(
            matches!(v["type"].as_str(), Some("error" | "pong" | "unread_count")),
            "{v}"
        );
        answered += 1;
    }
    attacker.assert_alive().await;
    let id = app.create_alert("2", "still-fine").await;
    assert_eq!(
        victim.expect("breach_alert").await["message"]["alert_id"],
        id
    );
}

/// Sessions start one at a time here (`Limits::starting_sessions` = 1): a
/// handshake that kept its place — on any way a handshake can end — would
/// leave the next waiting 5 s for a 503 instead of its greeting.
#[actix_web::test]
async fn every_way_a_handshake_ends_gives_its_starting_place_back() {
    let app = spawn_app_with(&[], |s| s.limits.starting_sessions = 1).await;
    let prompt = Duration::from_secs(3);
    let greeted = |user: String, extra: &'static str| {
        let app = &app;
        async move {
            tokio::time::timeout(prompt, app.connect_query(&user, extra))
                .await
                .unwrap_or_else(|_| panic!("{user}{extra}: no greeting within {prompt:?}"))
        }
    };
    let refused = |url: String| async move {
        tokio::time::timeout(prompt, close_of(&url))
            .await
            .unwrap_or_else(|_| panic!("{url}: no close within {prompt:?}"))
    };

    // Refused: a bad token, another user's token.
    let bad = refused(app.ws_url("/ws/breach-alerts/1/?token=nope")).await;
    assert_eq!(bad.code, 4003);
    let mismatch = refused(app.ws_url(&format!("/ws/breach-alerts/1/?token={}", jwt("2")))).await;
    assert_eq!(mismatch.code, 4003);
    // Admitted without a replay, then with one (something to replay and
    // nothing to replay), then closed by the client.
    let live = greeted("1".into(), "").await;
    app.create_alert("1", "b1").await;
    let mut replayed = greeted("1".into(), "&since=0").await;
    assert_eq!(
        replayed.expect("breach_alert").await["message"]["breach_id"],
        "b1"
    );
    let empty = greeted("1".into(), "&since=1000000").await;
    drop((live, replayed, empty));
    // Refused by the registry: over the connect limit (10 a minute).
    for _ in 0..10 {
        drop(greeted("3".into(), "").await);
    }
    let limited = refused(app.ws_url(&format!("/ws/breach-alerts/3/?token={}", jwt("3")))).await;
    assert_eq!(limited.code, 4029);

    // Many at once: they start one after another, and all of them do.
    let many =
        futures_util::future::join_all((0..20).map(|i| greeted(format!("m{i}"), "&since=0"))).await;
    assert_eq!(many.len(), 20);
}

#[actix_web::test]
async fn the_listener_holds_a_handshake_burst_of_pending_connections() {
    // std's bind listens with a backlog of 128: a pause in accepting during
    // a burst of handshakes dropped SYNs, and their clients waited a second
    // for the retransmit. The kernel caps the backlog at somaxconn.
    let app = spawn_app().await;
    let somaxconn: i32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .expect("somaxconn")
        .trim()
        .parse()
        .expect("a number");
    let out = std::process::Command::new("ss")
        .args(["-Hltn", &format!("sport = :{}", app.port)])
        .output()
        .expect("ss (iproute2) reports a listener's backlog");
    let line = String::from_utf8_lossy(&out.stdout);
    // "LISTEN  0  4096  127.0.0.1:PORT  0.0.0.0:*": Send-Q is the backlog.
    let backlog: i32 = line
        .split_whitespace()
        .nth(2)
        .and_then(|b| b.parse().ok())
        .unwrap_or_else(|| panic!("no listener in {line:?}"));
    assert_eq!(
        backlog,
        alerthub::startup::LISTEN_BACKLOG.min(somaxconn),
        "{line}"
    );
}
