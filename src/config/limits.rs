//! Timing and size limits of sessions, with the contract's numbers as
//! defaults; tests shorten them.

use std::time::Duration;

/// Timing and size limits of a session; the contract's numbers by default.
#[derive(Debug, Clone)]
pub struct Limits {
    pub heartbeat_interval: Duration,
    pub client_timeout: Duration,
    pub max_frame_bytes: usize,
    pub messages_per_second: u32,
    pub message_burst: u32,
    /// Frames queued for one session (waiting to be handled, held during a
    /// replay, or waiting for the kernel) before it is closed with 1013.
    pub outbound_queue: usize,
    /// Bytes waiting for the kernel before a session is closed with 1013: a
    /// backstop above what 1,024 frames of the largest alert take (about
    /// 4.5 MiB), so the frame bound of the contract is what normally acts.
    pub outbound_bytes: usize,
    /// The kernel send buffer of each WebSocket (`SO_SNDBUF`).
    pub socket_send_buffer: usize,
    /// How long a close frame may take to reach a peer (and its answer to
    /// come back) before the connection is dropped.
    pub close_deadline: Duration,
    pub replay_max: i64,
    /// Sessions starting at once per node: from the credential check to the
    /// replay read. More handshakes wait their turn (FIFO), so a reconnect
    /// storm does not fill every thread's queue and delay the alerts of the
    /// sessions already open.
    pub starting_sessions: usize,
    pub connect_window: Duration,
    /// How long a request body may take to arrive, in all, once its
    /// headers have: a sender that stalls half-way gets 408.
    pub body_read_timeout: Duration,
    /// How long a node trusts what it looked up about an opaque token.
    pub token_cache_ttl: Duration,
    /// Database lookups of tagged opaque tokens that missed the cache, per
    /// node: the token bucket's rate and burst.
    pub token_lookups_per_second: u32,
    pub token_lookup_burst: u32,
    /// The same for untagged (legacy) opaque tokens, in a bucket of their own.
    pub legacy_token_lookups_per_second: u32,
    pub legacy_token_lookup_burst: u32,
    /// Retention: the longest pause between two sweeps (shorter when the
    /// retention period itself is shorter), rows one purge step examines,
    /// and the pause between two steps.
    pub retention_sweep_every: Duration,
    pub retention_window: i64,
    pub retention_pause: Duration,
    /// Web Push: how often a node looks for alerts due for a push.
    pub push_poll_interval: Duration,
    /// Web Push: how long a claim on a due alert lasts; a node that dies
    /// holding one leaves the alert to another node after this.
    pub push_lease: Duration,
    /// Web Push: one request to a push service, connect to answer.
    pub push_send_timeout: Duration,
    /// Web Push: requests to push services in flight per node.
    pub push_concurrency: usize,
    /// Web Push: due alerts claimed per poll.
    pub push_batch: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_secs(15),
            client_timeout: Duration::from_secs(45),
            max_frame_bytes: 64 * 1024,
            messages_per_second: 20,
            message_burst: 40,
            outbound_queue: 1024,
            outbound_bytes: 8 * 1024 * 1024,
            socket_send_buffer: 128 * 1024,
            close_deadline: Duration::from_secs(1),
            replay_max: 1000,
            starting_sessions: 64,
            connect_window: Duration::from_secs(60),
            body_read_timeout: Duration::from_secs(10),
            token_cache_ttl: Duration::from_secs(1),
            token_lookups_per_second: 200,
            token_lookup_burst: 400,
            legacy_token_lookups_per_second: 10,
            legacy_token_lookup_burst: 20,
            retention_sweep_every: Duration::from_secs(60),
            retention_window: 500,
            retention_pause: Duration::from_millis(10),
            push_poll_interval: Duration::from_secs(1),
            push_lease: Duration::from_secs(60),
            push_send_timeout: Duration::from_secs(10),
            push_concurrency: 16,
            push_batch: 32,
        }
    }
}
