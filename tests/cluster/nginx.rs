//! Acceptance 5 of the multi-node issue: Debian's nginx on loopback, with
//! the shipped `deploy/nginx.conf`, in front of two nodes carries a session
//! and an alert end to end.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::nodes::{Node, free_port, shared};
use alerthub_test_support::{WsClient, jwt};

#[actix_web::test]
async fn nginx_balances_sessions_and_alerts_across_two_nodes() {
    let Some(shared) = shared("nginx_balances_sessions_and_alerts_across_two_nodes") else {
        return;
    };
    let nginx = std::path::Path::new("/usr/sbin/nginx");
    if !nginx.exists() {
        panic!(
            "Debian's nginx is required for this test (apt-get install nginx); .ci/run installs it"
        );
    }
    let a = Node::start(&shared, "node-a", &[]).await;
    let b = Node::start(&shared, "node-b", &[]).await;
    let port = free_port();

    // The shipped site config, pointed at this test's nodes and port.
    let site = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx.conf"))
        .expect("deploy/nginx.conf")
        .replace("127.0.0.1:8001", &format!("127.0.0.1:{}", a.port))
        .replace("127.0.0.1:8002", &format!("127.0.0.1:{}", b.port))
        .replace("listen 80;", &format!("listen 127.0.0.1:{port};"));
    let dir = shared.dir.path();
    std::fs::write(dir.join("site.conf"), site).unwrap();
    let main = format!(
        "user root; master_process off; daemon off; pid {d}/nginx.pid; error_log {d}/nginx-error.log;\n\
         events {{ worker_connections 256; }}\n\
         http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
         include {d}/site.conf; }}\n",
        d = dir.display()
    );
    std::fs::write(dir.join("nginx.conf"), main).unwrap();
    let mut proxy = Command::new(nginx)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("nginx starts");
    let mut up = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        up,
        "nginx did not listen: {}",
        std::fs::read_to_string(dir.join("nginx-error.log")).unwrap_or_default()
    );

    // Several sessions through nginx (they spread over both nodes), then an
    // alert triggered through nginx reaches all of them.
    let mut tabs = Vec::new();
    for _ in 0..4 {
        let url = format!(
            "ws://127.0.0.1:{port}/ws/breach-alerts/1/?token={}",
            jwt("1")
        );
        let mut ws = WsClient::open(&url).await.expect("upgrade through nginx");
        ws.expect("connection_established").await;
        tabs.push(ws);
    }
    let (a_conn, b_conn) = (
        a.status("/health").await.unwrap().1,
        b.status("/health").await.unwrap().1,
    );
    assert_eq!(
        a_conn["connections"].as_u64().unwrap() + b_conn["connections"].as_u64().unwrap(),
        4
    );
    assert!(
        a_conn["connections"].as_u64().unwrap() > 0 && b_conn["connections"].as_u64().unwrap() > 0
    );

    let http = awc::Client::default();
    let mut response = http
        .post(format!("http://127.0.0.1:{port}/api/v1/alerts"))
        .insert_header((
            "Authorization",
            format!("Bearer {}", alerthub_test_support::SERVICE_KEY),
        ))
        .send_json(&alerthub_test_support::alert_body("1", "through-nginx"))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    for ws in &mut tabs {
        assert_eq!(
            ws.expect("breach_alert").await["message"]["alert_id"],
            body["alert"]["alert_id"]
        );
        ws.assert_alive().await;
    }
    let _ = proxy.start_kill();
    let _ = proxy.wait().await;
}
