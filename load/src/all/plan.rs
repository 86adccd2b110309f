//! The sizes of `all`: a full run (the targets' conditions) and a quick
//! one (smaller and shorter, for smoke tests; its figures read n/a where
//! they fall short of a target's conditions), and the scenarios they make.

use std::time::Duration;

use crate::cli::{FanoutOpts, HandshakeOpts, IdleOpts, ReconnectOpts, ReplayOpts, ThroughputOpts};
use crate::scenarios::Scenario;
use crate::scenarios::fanout::{Backend, Fanout};
use crate::scenarios::handshakes::Handshakes;
use crate::scenarios::idle::Idle;
use crate::scenarios::reconnect::Reconnect;
use crate::scenarios::replay::Replay;
use crate::scenarios::throughput::Throughput;

/// Sizes for the full run and the quick one.
pub struct Plan {
    pub idle: IdleOpts,
    pub handshakes: HandshakeOpts,
    pub fanout: FanoutOpts,
    pub throughput: ThroughputOpts,
    pub reconnect: ReconnectOpts,
    pub replay_alerts: usize,
    pub replay_reps: usize,
    /// Hard limit per scenario.
    pub cap: Duration,
}

impl Plan {
    pub fn new(quick: bool) -> Self {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        if quick {
            Self {
                idle: IdleOpts {
                    sockets: 5_000,
                    processes: 2,
                    concurrency: 64,
                    hold: s(3),
                    token_ttl: crate::fleet::TOKEN_TTL,
                },
                handshakes: HandshakeOpts {
                    rates: vec![5_000],
                    step: s(1),
                    max_sockets: 15_000,
                    warmup: ms(500),
                },
                fanout: FanoutOpts {
                    users: 2_000,
                    rate: 2_000,
                    duration: s(3),
                    connections: 64,
                    probes: 10,
                    probe_interval: ms(100),
                    timeline: None,
                },
                throughput: ThroughputOpts {
                    users: 500,
                    rates: vec![5_000],
                    step: s(2),
                    connections: 128,
                    batch_size: 1_000,
                    batch_concurrency: 4,
                    batch_duration: s(2),
                    table_size: 20_000,
                },
                reconnect: ReconnectOpts {
                    sockets: 2_000,
                    rate: 500,
                    before: s(1),
                    after: s(1),
                    give_up: s(15),
                    observers: 400,
                },
                replay_alerts: 1_000,
                replay_reps: 5,
                cap: s(90),
            }
        } else {
            Self {
                idle: IdleOpts {
                    sockets: 19_500,
                    processes: 4,
                    concurrency: 64,
                    // Three rounds of the server's 15 s pings, for idle CPU.
                    hold: s(45),
                    token_ttl: crate::fleet::TOKEN_TTL,
                },
                handshakes: HandshakeOpts {
                    rates: vec![2_500, 5_000, 7_500, 10_000, 12_500, 15_000],
                    step: s(2),
                    max_sockets: 15_000,
                    warmup: s(1),
                },
                fanout: FanoutOpts {
                    users: 10_000,
                    rate: 2_000,
                    duration: s(10),
                    connections: 64,
                    probes: 20,
                    probe_interval: ms(100),
                    timeline: None,
                },
                throughput: ThroughputOpts {
                    users: 1_000,
                    rates: vec![
                        5_000, 7_500, 10_000, 12_500, 15_000, 17_500, 20_000, 25_000, 30_000,
                    ],
                    step: s(4),
                    connections: 128,
                    batch_size: 1_000,
                    batch_concurrency: 4,
                    batch_duration: s(5),
                    table_size: 1_000_000,
                },
                reconnect: ReconnectOpts {
                    sockets: 10_000,
                    rate: 1_000,
                    before: s(2),
                    after: s(1),
                    give_up: s(30),
                    observers: 2_000,
                },
                replay_alerts: 1_000,
                replay_reps: 20,
                // The throughput scenario fills a table of 1M alerts first.
                cap: s(600),
            }
        }
    }
}

impl Plan {
    /// Every scenario in the order `all` runs them; the PostgreSQL fan-out
    /// only with a URL.
    pub fn scenarios(&self, postgres_url: Option<&str>) -> Vec<Box<dyn Scenario>> {
        let mut v: Vec<Box<dyn Scenario>> = vec![
            Box::new(Idle(self.idle.clone())),
            Box::new(Handshakes(self.handshakes.clone())),
            Box::new(Fanout {
                opts: self.fanout.clone(),
                backend: Backend::Sqlite,
            }),
            Box::new(Throughput(self.throughput.clone())),
            Box::new(Reconnect(self.reconnect.clone())),
            Box::new(Replay(ReplayOpts {
                alerts: self.replay_alerts,
                reps: self.replay_reps,
            })),
        ];
        if let Some(url) = postgres_url {
            v.push(Box::new(Fanout {
                opts: self.fanout.clone(),
                backend: Backend::Postgres(url.to_owned()),
            }));
        }
        v
    }
}

/// The names `--only` takes, in order.
pub const NAMES: [&str; 7] = [
    "idle",
    "handshakes",
    "fanout",
    "throughput",
    "reconnect",
    "replay",
    "postgres",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_plan_is_smaller() {
        let q = Plan::new(true);
        let f = Plan::new(false);
        assert!(q.idle.sockets < f.idle.sockets);
        assert!(q.fanout.users < f.fanout.users);
        assert_eq!(f.fanout.users, 10_000);
        assert_eq!(f.fanout.rate, 2_000);
        assert_eq!(f.reconnect.sockets, 10_000);
        assert!(f.idle.sockets >= 19_500);
    }

    #[test]
    fn scenarios_are_named_as_only_takes_them() {
        let p = Plan::new(true);
        let names: Vec<_> = p
            .scenarios(Some("postgres://x"))
            .iter()
            .map(|s| s.name())
            .collect();
        assert_eq!(names, NAMES);
        assert_eq!(p.scenarios(None).len(), NAMES.len() - 1);
        let pg = p.scenarios(Some("postgres://x")).pop().unwrap();
        assert_eq!(pg.database_url(), Some("postgres://x"));
    }
}
