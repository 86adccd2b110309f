//! `Retention`: deletes read alerts older than `ALERTHUB_RETENTION_DAYS`
//! (contract §7) in the background, so the table does not grow forever.
//!
//! It runs one sweep at a time: small steps (`PurgeRead`, answered by the
//! `DbActor`, each examining a bounded window of rows) with a pause between
//! them, so a trigger never waits behind more than one short statement —
//! the `DbActor`'s other threads keep serving in the meantime. A sweep
//! ends at the first alert newer than the cutoff; the next one starts
//! `sweep_every` later, from the lowest id. Unread alerts are never
//! deleted. When storage is unavailable the sweep stops and the next one
//! tries again.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;

use super::messages::{PurgeRead, db_result};
use crate::telemetry::metrics::Metrics;

/// How old a read alert may get, and how the purge paces itself.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Read alerts created longer ago than this are deleted.
    pub keep: Duration,
    /// Pause between the end of one sweep and the start of the next.
    pub sweep_every: Duration,
    /// Rows one step examines (and at most deletes).
    pub window: i64,
    /// Pause between two steps of a sweep.
    pub pause: Duration,
}

pub struct Retention {
    policy: Policy,
    db: Recipient<PurgeRead>,
    metrics: Arc<Metrics>,
}

impl Retention {
    pub fn new(policy: Policy, db: Recipient<PurgeRead>, metrics: Arc<Metrics>) -> Self {
        Self {
            policy,
            db,
            metrics,
        }
    }
}

impl Actor for Retention {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let (policy, db, metrics) = (self.policy.clone(), self.db.clone(), self.metrics.clone());
        ctx.spawn(actix::fut::wrap_future(async move {
            loop {
                sweep(&policy, &db, &metrics).await;
                tokio::time::sleep(policy.sweep_every).await;
            }
        }));
    }
}

/// One sweep over the table, lowest ids first; returns when it reached
/// alerts newer than the cutoff, the end of the table, or an error.
async fn sweep(policy: &Policy, db: &Recipient<PurgeRead>, metrics: &Metrics) {
    let Ok(keep) = chrono::Duration::from_std(policy.keep) else {
        return;
    };
    let Some(cutoff) = Utc::now().naive_utc().checked_sub_signed(keep) else {
        return;
    };
    let (mut after, mut total) = (0_i64, 0_usize);
    loop {
        let step = PurgeRead {
            cutoff,
            after,
            window: policy.window,
        };
        let done = match db_result(db.send(step).await) {
            Ok(step) => {
                total += step.deleted;
                metrics.retention_deleted.inc_by(step.deleted as u64);
                match step.last_id {
                    Some(last) if !step.reached_recent => {
                        after = last;
                        false
                    }
                    _ => true,
                }
            }
            Err(e) => {
                log::warn!("retention: storage unavailable, sweep stopped: {e}");
                true
            }
        };
        if done {
            break;
        }
        tokio::time::sleep(policy.pause).await;
    }
    if total > 0 {
        log::info!("retention: deleted {total} read alert(s) created before {cutoff} UTC");
    }
}
