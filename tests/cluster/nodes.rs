//! Starting real nodes as processes, and the services they share.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use alerthub_test_support::{JWT_SECRET, SERVICE_KEY, TestDatabase, WsClient, jwt};

/// What the nodes of one test share: a fresh PostgreSQL database and a
/// Redis key prefix of their own.
pub struct Shared {
    pub database: TestDatabase,
    pub redis_url: String,
    pub prefix: String,
    pub dir: tempfile::TempDir,
}

/// The shared services, or `None` (with a SKIPPED line) when the multi-node
/// suite is not configured.
pub fn shared(test: &str) -> Option<Shared> {
    let pg = std::env::var("ALERTHUB_TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"));
    let redis = std::env::var("ALERTHUB_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let (Some(_), Some(redis_url)) = (pg, redis) else {
        alerthub_test_support::skipped(
            test,
            "set ALERTHUB_TEST_DATABASE_URL=postgres://… and ALERTHUB_TEST_REDIS_URL=redis://… to run it",
        );
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(dir.path());
    let prefix = format!("alerthub-test-{}-{}:", std::process::id(), unique());
    Some(Shared {
        database,
        redis_url,
        prefix,
        dir,
    })
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A connection of the test's own to the Redis at `url`.
pub async fn redis_connection(url: &str) -> deadpool_redis::redis::aio::MultiplexedConnection {
    let client = deadpool_redis::redis::Client::open(url).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

/// How many connections of the Redis at `url` subscribe `channel`
/// (`PUBSUB NUMSUB`).
pub async fn subscribers(url: &str, channel: &str) -> u64 {
    let numsub: Vec<(String, u64)> = deadpool_redis::redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel)
        .query_async(&mut redis_connection(url).await)
        .await
        .unwrap();
    numsub[0].1
}

/// One `alerthub serve` process.
pub struct Node {
    pub name: String,
    pub port: u16,
    child: Child,
    log: PathBuf,
    pub http: awc::Client,
}

impl Node {
    /// Starts a node and waits until `/ready` answers 200 (database and
    /// Redis reachable, channels subscribed).
    pub async fn start(shared: &Shared, name: &str, extra: &[(&str, &str)]) -> Self {
        Self::start_with_redis(shared, name, &shared.redis_url, extra).await
    }

    pub async fn start_with_redis(
        shared: &Shared,
        name: &str,
        redis_url: &str,
        extra: &[(&str, &str)],
    ) -> Self {
        let port = free_port();
        let log = shared.dir.path().join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_alerthub"))
            .arg("serve")
            .env_clear()
            .env("RUST_LOG", "info")
            .env("ALERTHUB_BIND", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", &shared.database.url)
            .env("REDIS_URL", redis_url)
            .env("ALERTHUB_REDIS_PREFIX", &shared.prefix)
            .env("ALERTHUB_JWT_SECRET", JWT_SECRET)
            .env("ALERTHUB_SERVICE_KEYS", SERVICE_KEY)
            .env("ALERTHUB_NODE_ID", name)
            .env("ALERTHUB_INGEST_CLAIM_IDLE_SECS", "2")
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true)
            .spawn()
            .expect("alerthub starts");
        let node = Self {
            name: name.to_owned(),
            port,
            child,
            log,
            http: awc::Client::builder()
                .timeout(Duration::from_secs(30))
                .finish(),
        };
        node.wait_ready().await;
        node
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn status(&self, path: &str) -> Option<(u16, serde_json::Value)> {
        let mut response = self.http.get(self.url(path)).send().await.ok()?;
        let body = response.body().await.ok()?;
        Some((
            response.status().as_u16(),
            serde_json::from_slice(&body).unwrap_or_default(),
        ))
    }

    /// Polls `/ready` until it answers `want`, for at most 30 s.
    pub async fn wait_for_ready_status(&self, want: u16) {
        for _ in 0..300 {
            if self.status("/ready").await.is_some_and(|(s, _)| s == want) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "node {} never answered /ready {want}; log:\n{}",
            self.name,
            self.log()
        );
    }

    pub async fn wait_ready(&self) {
        self.wait_for_ready_status(200).await;
    }

    pub async fn metrics(&self) -> String {
        let mut response = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics");
        String::from_utf8(response.body().await.unwrap().to_vec()).unwrap()
    }

    /// A counter's value in `/metrics`.
    pub async fn counter(&self, name: &str) -> u64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|rest| rest.trim().parse::<f64>().ok())
            })
            .unwrap_or(0.0) as u64
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let mut response = self
            .http
            .post(self.url(path))
            .insert_header(("Authorization", format!("Bearer {SERVICE_KEY}")))
            .send_json(&body)
            .await
            .expect("node answers");
        let bytes = response.body().await.unwrap();
        (
            response.status().as_u16(),
            serde_json::from_slice(&bytes).unwrap_or_default(),
        )
    }

    /// Triggers an alert that must be created; returns its id.
    pub async fn create_alert(&self, user: &str, breach: &str) -> i64 {
        let (status, body) = self
            .post(
                "/api/v1/alerts",
                alerthub_test_support::alert_body(user, breach),
            )
            .await;
        assert_eq!(status, 201, "{} answered {body}", self.name);
        body["alert"]["alert_id"].as_i64().unwrap()
    }

    pub fn ws_url(&self, user: &str, extra: &str) -> String {
        format!(
            "ws://127.0.0.1:{}/ws/breach-alerts/{user}/?token={}{extra}",
            self.port,
            jwt(user)
        )
    }

    /// A session for `user` on this node, greeted.
    pub async fn connect(&self, user: &str) -> WsClient {
        let mut ws = WsClient::open(&self.ws_url(user, ""))
            .await
            .expect("handshake");
        ws.expect("connection_established").await;
        ws
    }

    /// SIGKILL: no chance to acknowledge, publish or close anything.
    pub async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        let _ = self.child.wait().await;
    }
}

/// A Redis server of the test's own, on a spare port, that it may stop and
/// start again — never the machine's shared one.
pub struct OwnRedis {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl OwnRedis {
    pub async fn start(dir: &Path) -> Self {
        let mut redis = Self {
            port: free_port(),
            dir: dir.to_owned(),
            child: None,
        };
        redis.restart().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub async fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let client = deadpool_redis::redis::Client::open(self.url()).unwrap();
        for _ in 0..100 {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                let pong: Result<String, _> = deadpool_redis::redis::cmd("PING")
                    .query_async(&mut conn)
                    .await;
                if pong.is_ok() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("own redis-server did not come up on port {}", self.port);
    }

    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.start_kill().unwrap();
            let _ = child.wait().await;
        }
    }
}

/// Several Redis servers of the test's own: the shards of one cluster, in
/// the order of `REDIS_URL`.
pub struct OwnShards(pub Vec<OwnRedis>);

impl OwnShards {
    pub async fn start(dir: &Path, count: usize) -> Self {
        let mut shards = Vec::new();
        for i in 0..count {
            let dir = dir.join(format!("shard{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            shards.push(OwnRedis::start(&dir).await);
        }
        Self(shards)
    }

    pub fn urls(&self) -> Vec<String> {
        self.0.iter().map(OwnRedis::url).collect()
    }

    /// The value of `REDIS_URL`.
    pub fn redis_url(&self) -> String {
        self.urls().join(",")
    }
}
