//! The real binary as a separate process, the way an operator runs it:
//! for the command-line tests, and for tests that watch the server's own
//! memory (its RSS, which an in-process server would share with the test).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::app::PATIENCE;

/// The `alerthub` binary cargo built beside the running test (tests live in
/// `target/<profile>/deps/`), or `ALERTHUB_BIN`.
pub fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("ALERTHUB_BIN") {
        return bin.into();
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps");
    profile_dir.join("alerthub")
}

/// The built binary with a clean environment: no variable of the host
/// (a CI's DATABASE_URL, say) leaks into what a test means.
pub fn alerthub(dir: &Path) -> Command {
    let mut cmd = Command::new(binary());
    cmd.current_dir(dir)
        .env_clear()
        .env("RUST_LOG", "info")
        .kill_on_drop(true);
    cmd
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `alerthub serve` and waits until its log says it listens.
pub async fn serve(dir: &Path, port: u16, envs: &[(&str, &str)]) -> (Child, Vec<String>) {
    let mut child = alerthub(dir)
        .arg("serve")
        .env("ALERTHUB_BIND", format!("127.0.0.1:{port}"))
        .envs(envs.iter().copied())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("serve starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = Vec::new();
    let listening = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let done = line.contains("starting service");
            log.push(line);
            if done {
                return;
            }
        }
        panic!("serve exited early: {log:?}");
    });
    listening.await.expect("serve listens in time");
    // Keep draining the log so the child never blocks on a full pipe.
    actix_web::rt::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, log)
}

/// The resident set of a process, in KiB (`VmRSS` of /proc/PID/status).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("process status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc status")
}
