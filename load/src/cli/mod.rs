//! Command line: the scenarios as subcommands, each with a target (a
//! running server and its credentials) and its options ([`opts`]); the
//! parsers for loopback targets and durations are in [`parse`].

mod opts;
mod parse;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use opts::{
    ClusterOpts, FanoutOpts, HandshakeOpts, IdleChildArgs, IdleOpts, ReadsOpts, ReconnectOpts,
    ReplayOpts, ThroughputOpts,
};
pub use parse::parse_target;

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
    /// Reads: `mark_read` at a rate, each timed to the `unread_count` that
    /// follows its `alert_update` (the write the capacity sizing counts per read).
    Reads {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        opts: ReadsOpts,
    },
    /// Multi-node: N alerthub nodes and M Redis shards started by the tool,
    /// PostgreSQL, sockets over every node, alerts across nodes (issue 16).
    Cluster(ClusterOpts),
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
    /// Start alerthub without its services listener (`ALERTHUB_SERVICE_BIND`):
    /// triggers then share the HTTP workers with every WebSocket handshake.
    #[arg(long)]
    pub one_listener: bool,
    /// The alerthub binary to start (fresh, on a fresh database) for each
    /// scenario; an older build gives the "before" figures.
    #[arg(long, default_value = "target/release/alerthub")]
    pub server_bin: PathBuf,
    /// The reference server, started the same way for each scenario
    /// [default: alerthub-reference beside this tool].
    #[arg(long)]
    pub reference_bin: Option<PathBuf>,
    /// Measure alerthub only (no reference column).
    #[arg(long)]
    pub no_reference: bool,
    /// Smaller sizes and shorter phases: the whole set in a few minutes.
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
    /// Write the report (markdown) to this file as well.
    #[arg(long)]
    pub summary_out: Option<PathBuf>,
    /// Write the report into this document, between its
    /// `<!-- alerthub-load: begin SECTION -->` and `... end SECTION -->` lines.
    #[arg(long)]
    pub write_doc: Option<PathBuf>,
    /// The section of --write-doc: `current`, or `before` for an older --server-bin.
    #[arg(long, default_value = "current")]
    pub doc_section: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
                assert_eq!(a.doc_section, "current");
                assert!(a.reference_bin.is_none() && !a.no_reference && a.write_doc.is_none());
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
