//! The options of each scenario: its sizes and phases, with the defaults
//! of a full run against a server started by hand.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::Args;

use super::parse::{parse_duration, parse_target};

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
    /// Lifetime of each socket's JWT (its `exp`); the server closes a
    /// socket with 4001 at its `exp`. Default 1h: no socket expires during
    /// a run, but every one has an expiry the server watches.
    #[arg(long, default_value = "3600s", value_parser = parse_duration)]
    pub token_ttl: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct HandshakeOpts {
    /// Open-loop connect rates to try, in connects per second, one step each.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "2500,5000,7500,10000,12500,15000"
    )]
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
    /// Writes one line per trigger to this file: its due time, HTTP answer
    /// and first arrival in µs since the run began (`-` if none), to see
    /// when in the run a tail happened.
    #[arg(long)]
    pub timeline: Option<std::path::PathBuf>,
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
        default_value = "5000,7500,10000,12500,15000,17500,20000,25000,30000"
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
    /// Alerts the table holds before the batches are measured: the steps'
    /// alerts, topped up through the batch endpoint (users nobody is connected as).
    #[arg(long, default_value_t = 1_000_000)]
    pub table_size: usize,
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
    /// Users besides the storm's who stay connected through it: the
    /// trigger → receive figure of users online while others reconnect.
    /// They and the triggers run on a runtime of their own, so the tool's
    /// reconnecting does not delay what it times.
    #[arg(long, default_value_t = 2_000)]
    pub observers: usize,
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
pub struct ReadsOpts {
    /// Users, one socket each; each socket gets `--rate / --users` reads a
    /// second (at most 10: the contract drops a session's messages above 20).
    #[arg(long, default_value_t = 1_000)]
    pub users: usize,
    /// Alerts stored per user before the reads (each read marks another).
    #[arg(long, default_value_t = 20)]
    pub alerts: usize,
    /// Open-loop rate of `mark_read`, over all users.
    #[arg(long, default_value_t = 2_000)]
    pub rate: u32,
    /// How long reads are sent (fewer if the users' alerts run out first).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
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
    /// Lifetime of each socket's JWT.
    #[arg(long, default_value = "3600s", value_parser = parse_duration)]
    pub token_ttl: Duration,
}

/// Issue 16's multi-node load: the tool starts every process itself.
#[derive(Debug, Clone, Args)]
pub struct ClusterOpts {
    /// The alerthub binary each node runs.
    #[arg(long, default_value = "target/release/alerthub")]
    pub server_bin: std::path::PathBuf,
    /// The shared store of every node (the database must exist).
    #[arg(long)]
    pub postgres_url: String,
    /// alerthub nodes, each a fresh process on its own loopback port.
    #[arg(long, default_value_t = 6)]
    pub nodes: usize,
    /// Redis instances started for the run, one per shard; every node gets
    /// all their URLs, comma-separated, in REDIS_URL.
    #[arg(long, default_value_t = 3)]
    pub shards: usize,
    /// The redis-server binary.
    #[arg(long, default_value = "redis-server")]
    pub redis_bin: std::path::PathBuf,
    /// Authenticated sockets in all, spread evenly over the nodes.
    #[arg(long, default_value_t = 100_000)]
    pub sockets: usize,
    /// Of those, users whose alerts are tracked (in this process, spread
    /// over the nodes); the rest are held by client processes.
    #[arg(long, default_value_t = 10_000)]
    pub measured_users: usize,
    /// Client processes per node for the held sockets (each holds at most
    /// what one process may open).
    #[arg(long, default_value_t = 2)]
    pub processes_per_node: usize,
    /// How long every socket is held before the alerts.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub hold: Duration,
    /// Alerts per second, open loop, each triggered on another node than its user's.
    #[arg(long, default_value_t = 2_000)]
    pub rate: u32,
    /// How long alerts are triggered.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// HTTP connections the trigger may use at once (each keeps one per node).
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Also print the latencies of the alerts due in each window of this
    /// length (e.g. 250ms): whether the tail is spread or comes in stalls.
    #[arg(long, value_parser = parse_duration)]
    pub windows: Option<Duration>,
    /// Kill the last shard (SIGKILL) a quarter into the alerts, keep it
    /// down this long, then start it again on its port, empty; report what
    /// its users missed, how soon they caught up from storage, and what the
    /// other users saw meanwhile (not the acceptance run).
    #[arg(long, value_parser = parse_duration)]
    pub shard_outage: Option<Duration>,
    /// Keep the nodes' and shards' directories and logs.
    #[arg(long)]
    pub keep: bool,
    /// Write the table (markdown) to this file as well.
    #[arg(long)]
    pub summary_out: Option<std::path::PathBuf>,
}
