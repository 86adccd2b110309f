//! A fresh alerthub for one scenario: its own port, its own SQLite file in
//! a temporary directory (or the given PostgreSQL URL), secrets the tool
//! chose, the connect limit raised for handshake storms, and logs at `warn`.
//! Stopped with SIGTERM (then SIGKILL) when the scenario ends, even on error.

use std::fs::{self, File};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http;

#[derive(Debug, Clone)]
pub struct ServerSpec {
    pub bin: PathBuf,
    /// `None`: a new SQLite file per server.
    pub database_url: Option<String>,
    /// Multi-node mode: passed as `REDIS_URL` (for sharded pub/sub, a
    /// comma-separated list of `redis://` URLs, one per shard, the same
    /// order on every node). `None`: no Redis.
    pub redis_url: Option<String>,
    pub jwt_secret: String,
    pub service_key: String,
    /// Parent of every server's directory.
    pub base_dir: PathBuf,
    pub keep: bool,
    /// Give alerthub a second listener for the services
    /// (`ALERTHUB_SERVICE_BIND`), which the tool's triggers then use. Only
    /// for a build that has it (`all` asks the binary first).
    pub service_listener: bool,
}

pub struct ServerProcess {
    child: Option<Child>,
    pub pid: u32,
    pub addr: SocketAddr,
    /// The services' listener, when the spec asked for one.
    pub service_addr: Option<SocketAddr>,
    pub dir: PathBuf,
    pub log: PathBuf,
    keep: bool,
}

/// Random bytes as hex: secrets, keys and directory tags.
pub fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> std::io::Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(l.local_addr()?.port())
}

fn tail(path: &PathBuf, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl ServerProcess {
    pub async fn start(spec: &ServerSpec, name: &str) -> Result<Self, String> {
        let dir = spec.base_dir.join(name);
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let service_addr = if spec.service_listener {
            let port = free_port().map_err(|e| format!("no free port: {e}"))?;
            Some(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        } else {
            None
        };
        let database_url = spec
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.display()));
        let log = dir.join("server.log");
        let out = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(&spec.bin)
            .arg("serve")
            .env("ALERTHUB_BIND", addr.to_string())
            .env("DATABASE_URL", &database_url)
            .env("ALERTHUB_JWT_SECRET", &spec.jwt_secret)
            .env("ALERTHUB_SERVICE_KEYS", &spec.service_key)
            .env("ALERTHUB_CONNECT_LIMIT", "1000000")
            .env("ALERTHUB_MAX_SESSIONS_PER_USER", "20")
            .env("ALERTHUB_NODE_ID", format!("load-{name}"))
            .env("RUST_LOG", "warn")
            .env_remove("ALERTHUB_ALLOWED_ORIGINS")
            .env_remove("ALERTHUB_JWT_PUBLIC_KEY")
            .env_remove("ALERTHUB_JWT_USER_CLAIM")
            .env_remove("ALERTHUB_DEV")
            .env_remove("REDIS_URL")
            .env_remove("ALERTHUB_SERVICE_BIND")
            .envs(service_addr.map(|a| ("ALERTHUB_SERVICE_BIND", a.to_string())))
            .envs(spec.redis_url.iter().map(|u| ("REDIS_URL", u)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", spec.bin.display()))?;
        let mut server = Self {
            pid: child.id(),
            child: Some(child),
            addr,
            service_addr,
            dir,
            log,
            keep: spec.keep,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = server
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                server.child = None;
                return Err(format!(
                    "the server exited at start ({status}); its log ends:\n{}",
                    tail(&server.log, 15)
                ));
            }
            if http::get(addr, "/health", Duration::from_secs(1))
                .await
                .is_ok_and(|r| r.status == 200)
            {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the server did not answer /health within 30 s; its log ends:\n{}",
                    tail(&server.log, 15)
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, up to 10 s for it to exit, then SIGKILL.
    pub async fn stop(mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: signalling our own child by its pid.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if child.try_wait().ok().flatten().is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if !self.keep {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
