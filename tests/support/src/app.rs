//! Spawns the real server on port 0 for each test, with its own SQLite file
//! (or, with `ALERTHUB_TEST_DATABASE_URL`, its own PostgreSQL database), and
//! gives tests a real HTTP client (awc) and a real WebSocket client
//! (tokio-tungstenite) that speak to it over TCP.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::Addr;
use alerthub::actors::registry::Registry;
use alerthub::cli::args::Cli;
use alerthub::config::Settings;
use alerthub::startup::Application;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message, client::IntoClientRequest};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const JWT_SECRET: &str = "test-secret-for-the-suite";
pub const SERVICE_KEY: &str = "svc-test-key";

/// How long a test waits for a frame it expects before failing.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub struct TestApp {
    pub address: String,
    pub port: u16,
    /// The services' listener (`--service-bind`), when the test asked for one.
    pub service_port: Option<u16>,
    pub registry: Addr<Registry>,
    pub database_url: String,
    pub http: awc::Client,
    _dir: tempfile::TempDir,
    _database: TestDatabase,
}

/// Each test's own database: a SQLite file in the test's temporary folder,
/// or, when `ALERTHUB_TEST_DATABASE_URL` names a PostgreSQL server, a fresh
/// database on it that is dropped when the test ends. Either way tests can
/// run in parallel without seeing each other's rows.
pub struct TestDatabase {
    pub url: String,
    postgres_admin_url: Option<String>,
    name: String,
}

impl TestDatabase {
    /// A database the test manages itself.
    fn external(url: String) -> Self {
        Self {
            url,
            postgres_admin_url: None,
            name: String::new(),
        }
    }

    pub fn create(dir: &std::path::Path) -> Self {
        match std::env::var("ALERTHUB_TEST_DATABASE_URL") {
            Ok(admin) if admin.starts_with("postgres") => {
                use diesel::RunQueryDsl;
                let name = format!("alerthub_test_{}", rand_suffix());
                let mut conn = alerthub::storage::establish_postgres(&admin)
                    .unwrap_or_else(|e| panic!("ALERTHUB_TEST_DATABASE_URL does not connect: {e}"));
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .unwrap();
                Self {
                    url: alerthub::storage::postgres_url_with_database(&admin, &name),
                    postgres_admin_url: Some(admin),
                    name,
                }
            }
            _ => Self {
                url: format!("sqlite://{}", dir.join("test.db").display()),
                postgres_admin_url: None,
                name: String::new(),
            },
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        use diesel::RunQueryDsl;
        let Some(admin) = &self.postgres_admin_url else {
            return;
        };
        if let Ok(mut conn) = alerthub::storage::establish_postgres(admin) {
            let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            let _ = diesel::sql_query(drop).execute(&mut conn);
        }
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Says that a test was skipped, on the real stderr: libtest captures the
/// output of passing tests made with `eprintln!`, and a skip must be seen.
pub fn skipped(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// A server with the contract's defaults.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[], |_| {}).await
}

/// A server with extra command-line flags and adjusted settings.
pub async fn spawn_app_with(flags: &[&str], adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let _ = env_logger::builder().is_test(true).try_init();
    let dir = tempfile::tempdir().expect("temp dir");
    // A test may bring its own database (`--database-url`); else it gets a fresh one.
    let own_url = flags
        .iter()
        .position(|f| *f == "--database-url")
        .map(|i| flags[i + 1].to_owned());
    let database = match own_url.clone() {
        Some(url) => TestDatabase::external(url),
        None => TestDatabase::create(dir.path()),
    };
    let database_url = database.url.clone();
    let mut args = vec!["alerthub", "--bind", "127.0.0.1:0"];
    if own_url.is_none() {
        args.extend(["--database-url", &database_url]);
    }
    args.extend(["--jwt-secret", JWT_SECRET, "--service-keys", SERVICE_KEY]);
    args.extend_from_slice(flags);
    let cli = Cli::try_parse_from(args).expect("test flags parse");
    let mut settings = Settings::from_options(&cli.options).expect("test settings");
    settings.workers = Some(1);
    settings.pool.max_size = 2;
    // The Web Push poller stays quiet unless a test turns it up: its
    // queries would blur tests that count the database's statements.
    settings.limits.push_poll_interval = Duration::from_secs(3600);
    adjust(&mut settings);
    let app = Application::build(settings).await.expect("server starts");
    let port = app.port();
    let service_port = app.service_port();
    let registry = app.registry();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        service_port,
        registry,
        database_url,
        http: awc::Client::builder()
            .timeout(Duration::from_secs(30))
            .finish(),
        _dir: dir,
        _database: database,
    }
}

/// How long a server may still accept an opaque token that was revoked
/// behind its back (by the CLI or a test's own connection): what it looked
/// up is cached that long (see `alerthub::auth::lookup`).
pub fn token_cache_ttl() -> Duration {
    alerthub::config::Limits::default().token_cache_ttl
}

/// Waits until a token revoked behind the server's back must be refused.
pub async fn outlast_token_cache() {
    tokio::time::sleep(token_cache_ttl() + Duration::from_millis(50)).await;
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A Simple-JWT-shaped HS256 access token signed with `secret`.
pub fn sign_jwt(claims: Value, secret: &str) -> String {
    let key = EncodingKey::from_secret(secret.as_bytes()).unwrap();
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
}

pub fn jwt(user: &str) -> String {
    sign_jwt(
        json!({"user_id": user, "exp": now_secs() + 600, "token_type": "access"}),
        JWT_SECRET,
    )
}

pub fn alert_body(user: &str, breach: &str) -> Value {
    json!({"user_id": user, "breach_id": breach, "title": format!("Breach {breach}"), "severity": "high", "confidence": 0.9})
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn ws_url(&self, path_and_query: &str) -> String {
        format!("ws://127.0.0.1:{}{path_and_query}", self.port)
    }

    /// A direct connection to the server's database, for set-up the API
    /// does not offer (creating opaque tokens, as the CLI does).
    pub fn storage(&self) -> alerthub::storage::DbConn {
        self.pools().reads.get().unwrap()
    }

    /// Pools on the server's database as the server builds them: `inserts`
    /// is what its trigger writes with.
    pub fn pools(&self) -> alerthub::storage::DbPools {
        let url = alerthub::storage::DatabaseUrl::parse(&self.database_url).unwrap();
        let options = alerthub::storage::PoolOptions {
            max_size: 1,
            connect_timeout: Duration::from_secs(5),
        };
        alerthub::storage::connect_pools(&url, &options, None).unwrap()
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let mut response = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics answer");
        String::from_utf8(response.body().await.unwrap().to_vec()).unwrap()
    }

    /// Sends a request and returns the status and the JSON body (Null if none).
    pub async fn send(&self, req: awc::ClientRequest, body: Option<Value>) -> (u16, Value) {
        let mut response = match body {
            Some(b) => req.send_json(&b).await,
            None => req.send().await,
        }
        .expect("request reaches the server");
        let bytes = response.body().limit(4 * 1024 * 1024).await.expect("body");
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (response.status().as_u16(), json)
    }

    pub async fn post_as(&self, path: &str, auth: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = self.http.post(self.url(path));
        if let Some(auth) = auth {
            req = req.insert_header(("Authorization", auth));
        }
        self.send(req, Some(body)).await
    }

    pub async fn get_as(&self, path: &str, auth: &str) -> (u16, Value) {
        self.send(
            self.http
                .get(self.url(path))
                .insert_header(("Authorization", auth)),
            None,
        )
        .await
    }

    /// Triggers with the service key.
    pub async fn trigger(&self, body: Value) -> (u16, Value) {
        self.post_as(
            "/api/v1/alerts",
            Some(&format!("Bearer {SERVICE_KEY}")),
            body,
        )
        .await
    }

    /// Triggers an alert that must be created; returns its id.
    pub async fn create_alert(&self, user: &str, breach: &str) -> i64 {
        let (status, body) = self.trigger(alert_body(user, breach)).await;
        assert_eq!(status, 201, "{body}");
        body["alert"]["alert_id"].as_i64().unwrap()
    }

    /// Stores alerts through the batch endpoint, which must accept them;
    /// returns their ids in order.
    pub async fn post_batch(&self, alerts: Vec<Value>) -> Vec<i64> {
        let (status, body) = self
            .post_as(
                "/api/v1/alerts/batch",
                Some(&format!("Bearer {SERVICE_KEY}")),
                json!({"alerts": alerts}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["alert_id"].as_i64().unwrap())
            .collect()
    }

    /// Stores `n` alerts for a user through the batch endpoint; returns their ids.
    pub async fn create_many(&self, user: &str, prefix: &str, n: usize) -> Vec<i64> {
        let mut ids = Vec::with_capacity(n);
        for chunk_start in (0..n).step_by(1000) {
            let alerts = (chunk_start..n.min(chunk_start + 1000))
                .map(|i| alert_body(user, &format!("{prefix}-{i}")));
            ids.extend(self.post_batch(alerts.collect()).await);
        }
        ids
    }

    /// Opens a WebSocket for `user` with a valid JWT and reads the greeting.
    pub async fn connect(&self, user: &str) -> WsClient {
        self.connect_query(user, "").await
    }

    /// Like `connect`, with extra query parameters (e.g. `&since=5`).
    pub async fn connect_query(&self, user: &str, extra: &str) -> WsClient {
        let mut ws = WsClient::open(&self.ws_url(&format!(
            "/ws/breach-alerts/{user}/?token={}{extra}",
            jwt(user)
        )))
        .await
        .expect("handshake succeeds");
        let hello = ws.next_json().await;
        assert_eq!(hello["type"], "connection_established", "{hello}");
        ws
    }
}

pub struct WsClient {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How a socket ended, as the client saw it.
#[derive(Debug, PartialEq)]
pub struct Closed {
    pub code: u16,
    pub reason: String,
}

impl WsClient {
    pub async fn open(url: &str) -> Result<Self, tungstenite::Error> {
        Self::open_request(url.into_client_request()?).await
    }

    pub async fn open_request(
        request: tungstenite::handshake::client::Request,
    ) -> Result<Self, tungstenite::Error> {
        let (stream, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Self { stream })
    }

    pub async fn send_json(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream.send(Message::text(text)).await.expect("send");
    }

    /// The next frame of any kind, or None when the stream ended.
    pub async fn next_frame(&mut self, within: Duration) -> Option<Message> {
        match tokio::time::timeout(within, self.stream.next()).await {
            Ok(Some(Ok(m))) => Some(m),
            Ok(Some(Err(_))) | Ok(None) => None,
            Err(_) => panic!("no frame within {within:?}"),
        }
    }

    /// The next text frame as JSON; pings and pongs are skipped.
    pub async fn next_json(&mut self) -> Value {
        loop {
            match self.next_frame(PATIENCE).await {
                Some(Message::Text(t)) => {
                    return serde_json::from_str(&t).expect("server sends JSON");
                }
                Some(Message::Ping(_)) | Some(Message::Pong(_)) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next JSON frame of the given type, failing on anything else.
    pub async fn expect(&mut self, kind: &str) -> Value {
        let v = self.next_json().await;
        assert_eq!(v["type"], kind, "expected {kind}, got {v}");
        v
    }

    /// Reads until the close frame; fails if a text frame comes first.
    pub async fn expect_close(&mut self) -> Closed {
        loop {
            match self.next_frame(PATIENCE).await {
                Some(Message::Close(Some(CloseFrame { code, reason }))) => {
                    return Closed {
                        code: code.into(),
                        reason: reason.to_string(),
                    };
                }
                Some(Message::Close(None)) => {
                    return Closed {
                        code: 1005,
                        reason: String::new(),
                    };
                }
                Some(Message::Ping(_)) | Some(Message::Pong(_)) => continue,
                None => {
                    return Closed {
                        code: 1006,
                        reason: String::new(),
                    };
                }
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }

    /// Reads until the close frame, skipping text frames; returns them too.
    pub async fn drain_until_close(&mut self) -> (Vec<Value>, Closed) {
        let mut texts = Vec::new();
        loop {
            match self.next_frame(PATIENCE).await {
                Some(Message::Text(t)) => texts.push(serde_json::from_str(&t).unwrap()),
                Some(Message::Close(Some(CloseFrame { code, reason }))) => {
                    return (
                        texts,
                        Closed {
                            code: code.into(),
                            reason: reason.to_string(),
                        },
                    );
                }
                Some(Message::Close(None)) => {
                    return (
                        texts,
                        Closed {
                            code: 1005,
                            reason: String::new(),
                        },
                    );
                }
                Some(_) => continue,
                None => {
                    return (
                        texts,
                        Closed {
                            code: 1006,
                            reason: String::new(),
                        },
                    );
                }
            }
        }
    }

    /// Asserts that no text frame arrives for a while.
    pub async fn expect_silence(&mut self, for_: Duration) {
        let deadline = tokio::time::Instant::now() + for_;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return,
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                Ok(other) => panic!("expected silence, got {other:?}"),
            }
        }
    }

    /// A round trip that proves the session still answers.
    pub async fn assert_alive(&mut self) {
        self.send_json(json!({"type": "ping", "timestamp": "alive?"}))
            .await;
        let pong = self.expect("pong").await;
        assert_eq!(pong["timestamp"], "alive?");
    }
}

/// The close a handshake ends with when the server refuses it at once
/// (4003 / 4029): the upgrade succeeds, then the first frame is the close.
pub async fn close_of(url: &str) -> Closed {
    let mut ws = WsClient::open(url).await.expect("handshake succeeds");
    ws.expect_close().await
}

/// The HTTP status of a handshake refused before the upgrade.
pub async fn refused_status(request: tungstenite::handshake::client::Request) -> u16 {
    refused_response(request).await.0
}

/// The status and JSON body (`Null` when there is none, or it is not
/// JSON) of a handshake refused before the upgrade, for `assert_error`.
pub async fn refused_response(request: tungstenite::handshake::client::Request) -> (u16, Value) {
    match WsClient::open_request(request).await {
        Err(tungstenite::Error::Http(response)) => (
            response.status().as_u16(),
            serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                .unwrap_or(Value::Null),
        ),
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
        Ok(_) => panic!("expected an HTTP refusal, got an upgrade"),
    }
}

/// Asserts a response is the contract's error: the given status and a body
/// of exactly `{"error":{"code","message"[,"details"]}}` with that code and a
/// non-empty message. Returns `details` (Null when there is none).
pub fn assert_error(response: &(u16, Value), status: u16, code: &str) -> Value {
    let (got_status, body) = response;
    assert_eq!(*got_status, status, "{body}");
    let top = body
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {body}"));
    assert_eq!(top.keys().collect::<Vec<_>>(), ["error"], "{body}");
    let error = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("error is not an object: {body}"));
    assert_eq!(error["code"], code, "{body}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "no message: {body}"
    );
    assert!(
        error
            .keys()
            .all(|k| ["code", "message", "details"].contains(&k.as_str())),
        "{body}"
    );
    error.get("details").cloned().unwrap_or(Value::Null)
}

impl TestApp {
    /// Proves that nothing else is queued for `user`'s sessions: triggers a
    /// fresh alert and asserts it is the very next frame on every tab.
    /// Events for one user reach a session in the order they were
    /// published, so anything stray would come out first. Stores one alert.
    pub async fn assert_nothing_queued(&self, user: &str, tabs: &mut [&mut WsClient]) {
        static SENTINELS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SENTINELS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = self.create_alert(user, &format!("sentinel-{n}")).await;
        for tab in tabs.iter_mut() {
            let frame = tab.next_json().await;
            assert_eq!(
                frame["type"], "breach_alert",
                "expected the sentinel, got {frame}"
            );
            assert_eq!(
                frame["message"]["alert_id"], id,
                "expected the sentinel, got {frame}"
            );
        }
    }
}

/// The value of one sample (`name` or `name{labels}`) of the Prometheus
/// text of `/metrics`, if the series is exposed.
pub fn metric_sample(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (name, value) = l.rsplit_once(' ')?;
        (name == series).then(|| value.parse().expect("a sample's value is a number"))
    })
}

/// `metric_sample` for a series that must be exposed.
pub fn metric_value(text: &str, series: &str) -> f64 {
    metric_sample(text, series).unwrap_or_else(|| panic!("no sample {series} in:\n{text}"))
}

/// A counter (or one labelled series) as a whole number; 0 if not exposed.
pub fn metric_count(text: &str, series: &str) -> u64 {
    metric_sample(text, series).map_or(0, |v| v as u64)
}
