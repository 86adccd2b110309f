//! A session is greeted only once its node hears its user's Redis channel
//! (docs/protocol.md, "Subscribing before greeting"): an alert another node
//! creates right after `connection_established` arrives live; and first
//! sessions arriving together share one SUBSCRIBE.
//!
//! To make the race visible, node A reaches Redis through a slow link that
//! holds every `SUBSCRIBE` back for a while (a real proxy on loopback in
//! front of the real Redis); node B talks to Redis directly.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::nodes::{Node, shared, subscribers};

#[actix_web::test]
async fn a_greeted_session_already_hears_the_other_nodes() {
    let Some(shared) = shared("a_greeted_session_already_hears_the_other_nodes") else {
        return;
    };
    let (link, _) = slow_subscribe_link(&shared.redis_url, Duration::from_millis(150)).await;
    let a = Node::start_with_redis(&shared, "node-a", &link, &[]).await;
    let b = Node::start(&shared, "node-b", &[]).await;
    let (a, shared) = (&a, &shared);
    for i in 0..4 {
        let user = format!("{}", 1000 + i);
        // Two tabs at once: the second waits for the same subscription.
        let tab = || async {
            let ws = a.connect(&user).await;
            let channel = format!("{}user:{user}", shared.prefix);
            let listening = subscribers(&shared.redis_url, &channel).await;
            assert_eq!(
                listening, 1,
                "user {user} was greeted before node A listened"
            );
            ws
        };
        let (mut first, mut second) = futures_util::join!(tab(), tab());
        let alert = b.create_alert(&user, "right-after-the-greeting").await;
        for ws in [&mut first, &mut second] {
            assert_eq!(
                ws.expect("breach_alert").await["message"]["alert_id"],
                alert,
                "user {user}"
            );
        }
    }
}

/// First sessions that arrive while a SUBSCRIBE is on its way are
/// subscribed together, in one command: their greetings do not wait one
/// round trip each, in a row. The link holds each SUBSCRIBE a second, so
/// that the thirty handshakes arrive while the first one is held even on a
/// busy machine (one at a time they send thirty).
#[actix_web::test]
async fn subscribes_queued_meanwhile_go_to_redis_in_one_command() {
    let Some(shared) = shared("subscribes_queued_meanwhile_go_to_redis_in_one_command") else {
        return;
    };
    let (link, subscribes) = slow_subscribe_link(&shared.redis_url, Duration::from_secs(1)).await;
    let a = Node::start_with_redis(&shared, "node-a", &link, &[]).await;
    let at_start = subscribes.load(Ordering::SeqCst);
    let users: Vec<String> = (0..30).map(|i| format!("{}", 2000 + i)).collect();
    let tabs = futures_util::future::join_all(users.iter().map(|u| a.connect(u))).await;
    let sent = subscribes.load(Ordering::SeqCst) - at_start;
    assert!(
        sent <= 6,
        "{sent} SUBSCRIBE commands for 30 users arriving together"
    );
    for user in &users {
        let channel = format!("{}user:{user}", shared.prefix);
        assert_eq!(
            subscribers(&shared.redis_url, &channel).await,
            1,
            "user {user}"
        );
    }
    drop(tabs);
}

/// A TCP proxy to the Redis at `redis_url` that delays, by `hold`, every
/// chunk a client sends that contains `SUBSCRIBE`; the rest passes at once.
/// Answers the `redis://` URL to give a node, and a count of the SUBSCRIBE
/// commands sent through it.
async fn slow_subscribe_link(redis_url: &str, hold: Duration) -> (String, Arc<AtomicUsize>) {
    let upstream = redis_url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let subscribes = Arc::new(AtomicUsize::new(0));
    let counted = subscribes.clone();
    actix_web::rt::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(&upstream).await else {
                continue;
            };
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            let subscribes = Some((counted.clone(), hold));
            actix_web::rt::spawn(pump(client_read, server_write, subscribes));
            actix_web::rt::spawn(pump(server_read, client_write, None));
        }
    });
    (format!("redis://127.0.0.1:{port}"), subscribes)
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    subscribes: Option<(Arc<AtomicUsize>, Duration)>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if let Some((subscribes, hold)) = &subscribes {
            let chunk = &buf[..n];
            // RESP: `$9\r\nSUBSCRIBE\r\n`; UNSUBSCRIBE is held, not counted.
            let commands = chunk
                .windows(13)
                .filter(|w| w == b"\r\nSUBSCRIBE\r\n")
                .count();
            subscribes.fetch_add(commands, Ordering::SeqCst);
            if chunk.windows(9).any(|w| w == b"SUBSCRIBE") {
                tokio::time::sleep(*hold).await;
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
