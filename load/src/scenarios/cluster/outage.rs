//! `cluster --shard-outage D` (issue 16: losing one shard affects only the
//! users on it, and they catch up from storage when it returns): a quarter
//! into the alerts the last shard is killed (SIGKILL, a crash), kept down
//! for `D`, then started again on its port, empty — as this machine's Redis
//! restarts, keeping nothing. Its measured users are read off the shard
//! just before the kill (`PUBSUB CHANNELS`: one channel per user online,
//! named `…user:<id>`).
//!
//! The row splits the alerts three ways: the shard's users' alerts due
//! while it was down (lost, doubled, and how long after the shard returned
//! the last of them arrived: the nodes' catch-up from storage, `CatchUp` in
//! the server's `src/actors/hub.rs`), theirs due after it returned, and
//! every other user's due while it was down or catching up, against theirs
//! before the kill.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::time::{Duration, Instant};

use super::redis::Shard;
use crate::fleet::Tracker;
use crate::report::{Row, Verdict};
use crate::stats::thousands;

pub const FIGURE: &str = "one shard killed mid-alerts, back empty";
pub const TARGET: &str = "none lost or doubled, its users' alerts or the others'";

/// When the shard went down and came back, and whose it was.
pub struct Outage {
    /// Measured users (the tracker's indices) whose channel was on it.
    pub users: HashSet<usize>,
    pub down_ns: u64,
    pub up_ns: u64,
}

/// The measured users whose channel is among `channels` (the id follows
/// the last `user:`).
pub fn users_on(channels: &[String], names: &[String]) -> HashSet<usize> {
    let index: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    channels
        .iter()
        .filter_map(|c| c.rsplit_once("user:"))
        .filter_map(|(_, id)| index.get(id).copied())
        .collect()
}

/// Waits `after`, kills `shard`, keeps it down for `down`, starts it again.
pub async fn run(
    shard: &mut Shard,
    names: &[String],
    tracker: &Tracker,
    after: Duration,
    down: Duration,
) -> Result<Outage, String> {
    tokio::time::sleep(after).await;
    let users = users_on(&shard.channels().await?, names);
    let down_at = Instant::now();
    shard.kill().await;
    println!(
        "  shard on port {} killed ({} measured users on it) ...",
        shard.port,
        thousands(users.len() as u64)
    );
    tokio::time::sleep(down.saturating_sub(down_at.elapsed())).await;
    shard.restart().await?;
    let up_at = Instant::now();
    println!(
        "  ... back after {:.1} s, empty",
        (up_at - down_at).as_secs_f64()
    );
    Ok(Outage {
        users,
        down_ns: tracker.ns(down_at),
        up_ns: tracker.ns(up_at),
    })
}

/// Runs `alerts` and, with `down` set, the outage of `shard` beside them.
pub async fn alongside<T>(
    alerts: impl Future<Output = T>,
    down: Option<Duration>,
    shard: Option<&mut Shard>,
    names: &[String],
    tracker: &Tracker,
    after: Duration,
) -> (T, Option<Result<Outage, String>>) {
    match (down, shard) {
        (Some(down), Some(shard)) => {
            let (done, outage) = tokio::join!(alerts, run(shard, names, tracker, after, down));
            (done, Some(outage))
        }
        _ => (alerts.await, None),
    }
}

/// The run's row for the outage.
pub fn row(o: &Outage, tracker: &Tracker, range: Range<usize>, measured: usize) -> Row {
    let on = |u: usize| o.users.contains(&u);
    let while_down = o.down_ns..o.up_ns;
    let missed = tracker.figures_where(range.clone(), |u, due| on(u) && while_down.contains(&due));
    let later = tracker.figures_where(range.clone(), |u, due| on(u) && due >= o.up_ns);
    // The missed alerts' arrivals span from their first due time — within
    // a few alerts of the kill — to the last arrival; less the outage, that
    // is how long after the return the last arrived (to a few ms).
    let outage = Duration::from_nanos(o.up_ns - o.down_ns);
    let caught_up = missed.arrival_span.saturating_sub(outage);
    let settled = o.up_ns + caught_up.as_nanos() as u64;
    let others = tracker.figures_where(range.clone(), |u, due| {
        !on(u) && (o.down_ns..settled.max(o.up_ns + 1)).contains(&due)
    });
    let before = tracker.figures_where(range, |u, due| !on(u) && due < o.down_ns);
    let m = missed.accounting;
    let measured_text = format!(
        "down {:.1} s; {} of {} measured users on it; their {} alerts due meanwhile: \
         lost {}, doubled {}, failed {}, the last arrived {:.2} s after the shard was back \
         (trigger → receive {}); theirs due after: {}; the other users' due while it was \
         down or catching up: {} (lost {}, doubled {}), against {} before the kill",
        outage.as_secs_f64(),
        thousands(o.users.len() as u64),
        thousands(measured as u64),
        thousands(m.sent),
        m.lost,
        m.duplicated,
        m.failed,
        caught_up.as_secs_f64(),
        missed.delivery.summary(),
        later.delivery.summary(),
        others.delivery.summary(),
        others.accounting.lost,
        others.accounting.duplicated,
        before.delivery.summary(),
    );
    let clean = |a: &crate::fleet::accounting::Accounting| {
        a.lost == 0 && a.duplicated == 0 && a.failed == 0
    };
    let met = m.sent > 0 && clean(&m) && clean(&later.accounting) && clean(&others.accounting);
    Row::new(FIGURE, TARGET, measured_text, Verdict::from_bool(met))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shards_users_are_read_off_its_channel_names() {
        let names: Vec<String> = ["C1-cm-0", "C1-cm-1", "C1-cm-2"].map(String::from).to_vec();
        let channels: Vec<String> = [
            "alerthub:user:C1-cm-2",
            "alerthub:user:C1-cm-0",
            "alerthub:user:someone-else",
            "alerthub:control",
        ]
        .map(String::from)
        .to_vec();
        let users = users_on(&channels, &names);
        assert_eq!(users, HashSet::from([0, 2]));
    }
}
