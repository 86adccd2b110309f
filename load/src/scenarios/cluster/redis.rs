//! The cluster's Redis shards: `redis-server` processes the tool starts on
//! free loopback ports (no persistence, a directory and log each), stops
//! when the run ends, and reads counters from (`INFO stats commandstats
//! memory` through `redis-cli`) to give each shard's commands and publishes
//! per second, its subscribed channels and what they cost in memory over
//! the fresh shard; the run meters each shard's CPU by its pid (Redis
//! executes commands on one thread, so that share of a core is the shard's
//! headroom).

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::server::free_port;

/// A shard's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub commands: u64,
    /// PUBLISH and SPUBLISH calls.
    pub publishes: u64,
    /// Channels with at least one subscriber (`pubsub_channels`).
    pub channels: u64,
    /// Bytes Redis's allocator holds (`used_memory`).
    pub used_memory: u64,
}

/// Counters from the text of `INFO stats commandstats memory`.
pub fn parse_info(info: &str) -> Counters {
    let mut c = Counters::default();
    for line in info.lines() {
        let line = line.trim();
        if let Some(v) = line.strip_prefix("total_commands_processed:") {
            c.commands = v.parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("pubsub_channels:") {
            c.channels = v.parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("used_memory:") {
            c.used_memory = v.parse().unwrap_or(0);
        } else if let Some(rest) = line
            .strip_prefix("cmdstat_publish:")
            .or_else(|| line.strip_prefix("cmdstat_spublish:"))
        {
            c.publishes += rest
                .split(',')
                .find_map(|kv| kv.strip_prefix("calls="))
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    c
}

pub struct Shard {
    child: Option<Child>,
    bin: PathBuf,
    pub port: u16,
    /// `used_memory` once the shard first answered, before any client
    /// subscribed: what the subscriptions' memory is measured against.
    pub fresh_memory: Option<u64>,
    dir: PathBuf,
    keep: bool,
}

impl Shard {
    /// Starts one shard under `base/<name>` and waits (up to 10 s) for PONG.
    pub async fn start(bin: &Path, base: &Path, name: &str, keep: bool) -> Result<Self, String> {
        let dir = base.join(name);
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let mut shard = Self {
            child: None,
            bin: bin.to_owned(),
            port,
            fresh_memory: None,
            dir,
            keep,
        };
        shard.spawn().await?;
        shard.fresh_memory = shard.counters().await.map(|c| c.used_memory);
        Ok(shard)
    }

    /// Starts `redis-server` on the shard's port and waits for PONG.
    async fn spawn(&mut self) -> Result<(), String> {
        let log = self.dir.join("redis.log");
        let out = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let child = Command::new(&self.bin)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--maxclients")
            .arg("10000")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if self.cli(&["PING"]).await.is_ok_and(|r| r.trim() == "PONG") {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(format!(
            "redis on port {} did not answer PING within 10 s",
            self.port
        ))
    }

    /// Kills the shard as a crash would (SIGKILL) and waits until it is gone.
    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(5), c.wait()).await;
        }
    }

    /// Starts the shard again on its port, empty (it keeps nothing on disk).
    pub async fn restart(&mut self) -> Result<(), String> {
        self.kill().await;
        self.spawn().await
    }

    /// The channels with a subscriber (`PUBSUB CHANNELS`).
    pub async fn channels(&self) -> Result<Vec<String>, String> {
        Ok(self
            .cli(&["PUBSUB", "CHANNELS"])
            .await?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect())
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn cli(&self, args: &[&str]) -> Result<String, String> {
        let out = tokio::time::timeout(
            Duration::from_secs(3),
            Command::new("redis-cli")
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(args)
                .stdin(Stdio::null())
                .output(),
        )
        .await
        .map_err(|_| "redis-cli timed out".to_string())?
        .map_err(|e| format!("redis-cli: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The `redis-server` process, for its CPU.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    pub async fn counters(&self) -> Option<Counters> {
        self.cli(&["INFO", "stats", "commandstats", "memory"])
            .await
            .ok()
            .map(|t| parse_info(&t))
    }

    pub async fn stop(mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(5), c.wait()).await;
        }
    }
}

impl Drop for Shard {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.start_kill();
        }
        if !self.keep {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Bytes per subscribed channel over the fresh shard (`None` before any
/// channel, or without the fresh reading).
pub fn bytes_per_channel(fresh: Option<u64>, now: Counters) -> Option<f64> {
    let fresh = fresh?;
    (now.channels > 0).then(|| now.used_memory.saturating_sub(fresh) as f64 / now.channels as f64)
}

/// Per second, between two readings `secs` apart.
pub fn per_second(before: Counters, after: Counters, secs: f64) -> (f64, f64) {
    if secs <= 0.0 {
        return (0.0, 0.0);
    }
    (
        after.commands.saturating_sub(before.commands) as f64 / secs,
        after.publishes.saturating_sub(before.publishes) as f64 / secs,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_counters_parse() {
        let info = "# Stats\r\ntotal_connections_received:12\r\ntotal_commands_processed:5400\r\ninstantaneous_ops_per_sec:3\r\npubsub_channels:17\r\n\r\n# Commandstats\r\ncmdstat_publish:calls=2000,usec=4000,usec_per_call=2.00,rejected_calls=0,failed_calls=0\r\ncmdstat_spublish:calls=30,usec=60,usec_per_call=2.00,rejected_calls=0,failed_calls=0\r\ncmdstat_ping:calls=7,usec=1\r\n\r\n# Memory\r\nused_memory:1052304\r\nused_memory_human:1.00M\r\nused_memory_rss:9000000\r\n";
        assert_eq!(
            parse_info(info),
            Counters {
                commands: 5400,
                publishes: 2030,
                channels: 17,
                used_memory: 1_052_304,
            }
        );
        assert_eq!(parse_info(""), Counters::default());
        let (cmds, pubs) = per_second(
            Counters {
                commands: 100,
                publishes: 10,
                ..Counters::default()
            },
            Counters {
                commands: 2100,
                publishes: 1010,
                ..Counters::default()
            },
            2.0,
        );
        assert_eq!((cmds, pubs), (1000.0, 500.0));
        assert_eq!(
            per_second(Counters::default(), Counters::default(), 0.0),
            (0.0, 0.0)
        );
    }

    #[test]
    fn memory_per_channel_is_over_the_fresh_shard() {
        let now = Counters {
            channels: 1000,
            used_memory: 1_200_000,
            ..Counters::default()
        };
        assert_eq!(bytes_per_channel(Some(1_000_000), now), Some(200.0));
        assert_eq!(bytes_per_channel(None, now), None);
        let none = Counters { channels: 0, ..now };
        assert_eq!(bytes_per_channel(Some(1_000_000), none), None);
    }
}
