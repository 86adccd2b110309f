//! Command line: the scenarios as subcommands, and the parsers for what
//! they take (loopback targets, durations, rate lists).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "alerthub-load",
    version,
    about = "Load tool for alerthub. Speaks the wire contract only (WebSocket + REST), \
             targets loopback only, and every phase stops by itself."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every scenario, each against a freshly started server, and print
    /// the summary table.
    All(AllArgs),
    /// Idle sockets: how many authenticated sockets the server holds, and RSS per socket.
    Idle {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        opts: IdleOpts,
    },
    /// Handshakes: authenticated connects per second and their latency (open loop, in steps).
    Handshakes {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        opts: HandshakeOpts,
    },
    /// Fan-out: N users connected, alerts at a fixed open-loop rate; latency, lost, doubled.
    Fanout {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        opts: FanoutOpts,
    },
    /// Ping round trip under load (the fan-out load with ping probes; same options).
    Ping {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        opts: FanoutOpts,
    },
    /// Throughput: highest rate stored and delivered, single triggers and batches.
    Throughput {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        opts: ThroughputOpts,
    },
    /// Reconnect storm: every socket dropped at once, reconnecting with `since`.
    Reconnect {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        opts: ReconnectOpts,
    },
    /// Replay: time from `connection_established` to the last of N missed alerts.
    Replay {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        opts: ReplayOpts,
    },
    /// Internal: one client process of the idle scenario.
    #[command(hide = true)]
    IdleChild(IdleChildArgs),
}

/// A running server to measure, and the credentials to use on it.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Base URL of the server (loopback only: 127.0.0.0/8, ::1 or localhost).
    #[arg(long, default_value = "http://127.0.0.1:8000", value_parser = parse_target)]
    pub url: SocketAddr,
    /// The server's HS256 secret (ALERTHUB_JWT_SECRET): the tool mints user JWTs with it.
    #[arg(long, env = "ALERTHUB_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: String,
    /// One of the server's service keys (ALERTHUB_SERVICE_KEYS), for the trigger.
    #[arg(long, env = "ALERTHUB_LOAD_SERVICE_KEY", hide_env_values = true)]
    pub service_key: String,
    /// Claim that names the user (ALERTHUB_JWT_USER_CLAIM).
    #[arg(long, default_value = "user_id")]
    pub user_claim: String,
    /// PID of the server, for its CPU and RSS; found from the listening port when omitted.
    #[arg(long)]
    pub server_pid: Option<u32>,
}

#[derive(Debug, Clone, Args)]
pub struct AllArgs {
    /// The alerthub binary to start (fresh, on a fresh database) for each scenario.
    #[arg(long, default_value = "target/release/alerthub")]
    pub server_bin: PathBuf,
    /// Smaller sizes and shorter phases: the whole set in under two minutes.
    /// Figures measured under smaller conditions than a target's are marked n/a.
    #[arg(long)]
    pub quick: bool,
    /// Also run the fan-out against PostgreSQL at this URL (the database must exist).
    #[arg(long)]
    pub postgres_url: Option<String>,
    /// Only these scenarios (comma-separated: idle,handshakes,fanout,throughput,reconnect,replay,postgres).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Keep the servers' data directories and logs (under /tmp/alerthub-load-*).
    #[arg(long)]
    pub keep: bool,
    /// Write the summary table (markdown) to this file as well.
    #[arg(long)]
    pub summary_out: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct IdleOpts {
    /// Sockets to open (distinct users, one socket each).
    #[arg(long, default_value_t = 19_500)]
    pub sockets: usize,
    /// Client processes to spread them over (each has its own fd limit and source address).
    #[arg(long, default_value_t = 4)]
    pub processes: usize,
    /// Handshakes in flight per client process while opening.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// How long to hold them all open once established.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub hold: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct HandshakeOpts {
    /// Open-loop connect rates to try, in connects per second, one step each.
    #[arg(long, value_delimiter = ',', default_value = "2500,5000,7500,10000")]
    pub rates: Vec<u32>,
    /// Length of each step (capped by --max-sockets).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub step: Duration,
    /// Most sockets one step opens (they stay open until the step ends).
    #[arg(long, default_value_t = 15_000)]
    pub max_sockets: usize,
    /// Unmeasured connects at the first rate before the steps (0 to skip).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct FanoutOpts {
    /// Connected users (one socket each); alerts go to them round robin.
    #[arg(long, default_value_t = 10_000)]
    pub users: usize,
    /// Alerts per second, open loop.
    #[arg(long, default_value_t = 2_000)]
    pub rate: u32,
    /// How long alerts are triggered.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// HTTP connections the trigger may use at once.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Extra sockets that send `ping` and time the `pong`.
    #[arg(long, default_value_t = 20)]
    pub probes: usize,
    /// Interval between one probe's pings (the contract allows 20 messages/s).
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    pub probe_interval: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct ThroughputOpts {
    /// Connected users receiving the alerts.
    #[arg(long, default_value_t = 1_000)]
    pub users: usize,
    /// Open-loop rates of single triggers to try, in order; stops at the first that fails.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "5000,7500,10000,12500,15000"
    )]
    pub rates: Vec<u32>,
    /// Length of each single-trigger step.
    #[arg(long, default_value = "4s", value_parser = parse_duration)]
    pub step: Duration,
    /// HTTP connections for single triggers.
    #[arg(long, default_value_t = 128)]
    pub connections: usize,
    /// Alerts per batch request.
    #[arg(long, default_value_t = 1_000)]
    pub batch_size: usize,
    /// Batch requests in flight (closed loop).
    #[arg(long, default_value_t = 4)]
    pub batch_concurrency: usize,
    /// How long batches are sent.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub batch_duration: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct ReconnectOpts {
    /// Sockets (distinct users) to drop and reconnect.
    #[arg(long, default_value_t = 10_000)]
    pub sockets: usize,
    /// Alerts per second triggered throughout (open loop), so some arrive while users are away.
    #[arg(long, default_value_t = 1_000)]
    pub rate: u32,
    /// Alerts flow this long before the drop.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub before: Duration,
    /// Alerts flow this long after every socket is back.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub after: Duration,
    /// Give up waiting for the sockets to come back after this long.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub give_up: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct ReplayOpts {
    /// Missed alerts per replay (the contract replays at most 1,000).
    #[arg(long, default_value_t = 1_000)]
    pub alerts: usize,
    /// Replays to time (each a fresh user).
    #[arg(long, default_value_t = 20)]
    pub reps: usize,
}

#[derive(Debug, Clone, Args)]
pub struct IdleChildArgs {
    #[arg(long, value_parser = parse_target)]
    pub url: SocketAddr,
    #[arg(long)]
    pub prefix: String,
    #[arg(long)]
    pub count: usize,
    #[arg(long)]
    pub source_ip: Option<IpAddr>,
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    #[arg(long, default_value = "user_id")]
    pub user_claim: String,
    #[arg(long, env = "ALERTHUB_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: String,
    /// Hard stop, whatever the parent does.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    pub max_life: Duration,
}

/// `http://HOST:PORT[/]` with HOST in 127.0.0.0/8, `[::1]` or `localhost`.
/// Anything else is refused: this tool only loads the machine it runs on.
pub fn parse_target(raw: &str) -> Result<SocketAddr, String> {
    let rest = raw
        .strip_prefix("http://")
        .ok_or_else(|| format!("{raw:?}: the URL must start with http://"))?;
    let hostport = rest.trim_end_matches('/');
    if hostport.contains('/') {
        return Err(format!("{raw:?}: give the base URL only, without a path"));
    }
    let addr: SocketAddr = if let Some(port) = hostport.strip_prefix("localhost:") {
        let port: u16 = port
            .parse()
            .map_err(|_| format!("{raw:?}: bad port {port:?}"))?;
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
    } else {
        hostport
            .parse()
            .map_err(|_| format!("{raw:?}: expected http://127.0.0.1:PORT or http://[::1]:PORT"))?
    };
    if !is_loopback(addr.ip()) {
        return Err(format!(
            "{raw:?}: refusing a non-loopback target; this tool only loads 127.0.0.0/8 or ::1"
        ));
    }
    if addr.port() == 0 {
        return Err(format!("{raw:?}: port 0 is not a server"));
    }
    Ok(addr)
}

pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.octets()[0] == 127,
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// `250ms`, `10s`, `2m`, or plain seconds (`1.5`).
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let split = raw
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(raw.len());
    let (num, unit) = raw.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{raw:?} is not a duration such as 10s or 250ms"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        _ => return Err(format!("{raw:?}: unit must be ms, s or m")),
    };
    if !secs.is_finite() || !(0.0..=3600.0).contains(&secs) {
        return Err(format!("{raw:?}: must be between 0 and 1 hour"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_targets_are_accepted() {
        assert_eq!(
            parse_target("http://127.0.0.1:8000").unwrap(),
            "127.0.0.1:8000".parse().unwrap()
        );
        assert_eq!(
            parse_target("http://127.0.0.9:80/").unwrap(),
            "127.0.0.9:80".parse().unwrap()
        );
        assert_eq!(
            parse_target("http://localhost:9000").unwrap(),
            "127.0.0.1:9000".parse().unwrap()
        );
        assert_eq!(
            parse_target("http://[::1]:8000").unwrap(),
            "[::1]:8000".parse().unwrap()
        );
    }

    #[test]
    fn other_targets_are_refused() {
        for bad in [
            "http://10.0.0.1:8000",
            "http://192.168.1.2:8000",
            "http://0.0.0.0:8000",
            "http://[::]:8000",
            "http://[2001:db8::1]:8000",
            "http://example.com:8000",
            "https://127.0.0.1:8000",
            "127.0.0.1:8000",
            "http://127.0.0.1",
            "http://127.0.0.1:0",
            "http://127.0.0.1:8000/api",
        ] {
            assert!(parse_target(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("10h").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("2m30s").is_err());
        assert!(parse_duration("7200").is_err());
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("alerthub-load").chain(args.iter().copied()))
    }

    #[test]
    fn subcommands_take_their_options() {
        let cli = parse(&[
            "fanout",
            "--url",
            "http://127.0.0.1:9001",
            "--jwt-secret",
            "s",
            "--service-key",
            "k",
            "--users",
            "500",
            "--rate",
            "100",
            "--duration",
            "3s",
        ])
        .unwrap();
        match cli.command {
            Command::Fanout { target, opts } => {
                assert_eq!(target.url.port(), 9001);
                assert_eq!(target.jwt_secret, "s");
                assert_eq!(opts.users, 500);
                assert_eq!(opts.rate, 100);
                assert_eq!(opts.duration, Duration::from_secs(3));
                assert_eq!(opts.probes, 20);
            }
            other => panic!("parsed as {other:?}"),
        }
        let cli = parse(&[
            "handshakes",
            "--jwt-secret",
            "s",
            "--service-key",
            "k",
            "--rates",
            "1000,2000",
        ])
        .unwrap();
        match cli.command {
            Command::Handshakes { opts, .. } => assert_eq!(opts.rates, [1000, 2000]),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn all_has_defaults_and_refuses_remote_urls_elsewhere() {
        let cli = parse(&["all", "--quick", "--only", "idle,replay"]).unwrap();
        match cli.command {
            Command::All(a) => {
                assert!(a.quick);
                assert_eq!(a.server_bin, PathBuf::from("target/release/alerthub"));
                assert_eq!(a.only, ["idle", "replay"]);
            }
            other => panic!("parsed as {other:?}"),
        }
        let err = parse(&[
            "replay",
            "--url",
            "http://10.1.2.3:8000",
            "--jwt-secret",
            "s",
            "--service-key",
            "k",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("non-loopback"), "{err}");
    }
}
