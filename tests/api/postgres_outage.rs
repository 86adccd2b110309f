//! Issue 3, outage: with PostgreSQL stopped the server keeps serving —
//! sessions stay open, the trigger answers 503 `unavailable`, `/ready` 503 —
//! and it recovers by itself when PostgreSQL returns.
//!
//! The test runs its own PostgreSQL (`initdb` + `pg_ctl` on a spare port in a
//! temporary folder), never the machine's shared one. It runs with the
//! PostgreSQL suite (`ALERTHUB_TEST_DATABASE_URL=postgres://…`) and says so
//! when it is skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use alerthub_test_support::*;

/// A throwaway PostgreSQL cluster owned by the `postgres` OS user.
struct OwnCluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl OwnCluster {
    fn pg(&self, tool: &str) -> Command {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(self.bin.join(tool));
        cmd
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("pg.log");
        let status = self
            .pg("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(&log)
            .args(["-o", &opts, "-w", "start"])
            .status();
        assert!(
            status.unwrap().success(),
            "pg_ctl start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    fn stop(&self) {
        let status = self
            .pg("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "fast", "-w", "stop"])
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctl stop");
    }

    fn create() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries under /usr/lib/postgresql")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .find(|p| p.join("initdb").exists())
            .expect("initdb");
        let dir = tempfile::Builder::new()
            .prefix("alerthub-pg-")
            .tempdir()
            .unwrap();
        chown_postgres(dir.path());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Self { bin, dir, port };
        let status = cluster
            .pg("initdb")
            .arg("-D")
            .arg(cluster.data())
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8"])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "initdb");
        cluster.start();
        cluster
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = self
            .pg("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .status();
    }
}

fn chown_postgres(path: &Path) {
    assert!(
        Command::new("chown")
            .args(["postgres:postgres"])
            .arg(path)
            .status()
            .unwrap()
            .success()
    );
}

async fn status_of(app: &TestApp, path: &str) -> u16 {
    app.send(app.http.get(app.url(path)), None).await.0
}

#[actix_web::test]
async fn the_server_rides_out_a_postgres_outage_and_recovers_by_itself() {
    if !std::env::var("ALERTHUB_TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        skipped(
            "postgres outage test",
            "set ALERTHUB_TEST_DATABASE_URL=postgres://… to run it",
        );
        return;
    }
    let pg = OwnCluster::create();
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", pg.port);
    let app = spawn_app_with(&["--database-url", &url, "--db-timeout-secs", "1"], |_| {}).await;
    let mut ws = app.connect("1").await;
    let before = app.create_alert("1", "before").await;
    assert_eq!(
        ws.expect("breach_alert").await["message"]["alert_id"],
        before
    );
    assert_eq!(status_of(&app, "/ready").await, 200);

    pg.stop();
    // Sessions stay open and answer; storage-backed calls say unavailable.
    ws.assert_alive().await;
    let (status, body) = app.trigger(alert_body("1", "during")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("unavailable")),
        "{body}"
    );
    assert_eq!(status_of(&app, "/ready").await, 503);
    // Contract §8: a 503 says when to retry; 2 s when no database
    // connection came free in time, as here.
    let mut response = app
        .http
        .get(app.url("/api/v1/alerts/unread-count"))
        .insert_header(("Authorization", format!("Bearer {}", jwt("1"))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    let _ = response.body().await;
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("2")
    );
    let response = app.http.get(app.url("/ready")).send().await.unwrap();
    assert!(response.headers().contains_key("retry-after"));
    let (status, health) = app.send(app.http.get(app.url("/health")), None).await;
    assert_eq!(
        (status, health["checks"]["database"].as_str()),
        (200, Some("down")),
        "{health}"
    );
    // And `/metrics`, for the alert rule on `alerthub_database_up == 0`.
    let metrics = app.metrics().await;
    assert!(
        metrics.lines().any(|l| l == "alerthub_database_up 0"),
        "{metrics}"
    );
    ws.send_json(serde_json::json!({"type": "get_unread_count"}))
        .await;
    assert_eq!(ws.expect("error").await["code"], "unavailable");
    ws.assert_alive().await;

    pg.start();
    let mut ready = false;
    for _ in 0..60 {
        if status_of(&app, "/ready").await == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(ready, "/ready did not recover");
    let after = app.create_alert("1", "after").await;
    let metrics = app.metrics().await;
    assert!(
        metrics.lines().any(|l| l == "alerthub_database_up 1"),
        "{metrics}"
    );
    assert_eq!(
        ws.expect("breach_alert").await["message"]["alert_id"],
        after
    );
    let mut again = app.connect_query("1", &format!("&since={before}")).await;
    assert_eq!(
        again.expect("breach_alert").await["message"]["alert_id"],
        after
    );
}
