//! `AlertWriter`: group commit for the trigger, the hot path.
//!
//! Each trigger used to be its own transaction; with SQLite that means one
//! fsync per alert. The writer keeps at most one insert transaction in
//! flight: requests that arrive while it runs are queued and then stored
//! together in the next one. Under light load a request goes straight
//! through; under heavy load many share one commit. After a commit the
//! writer hands every newly created alert to `Delivery` and only then
//! answers, so a 201 means "stored and on its way".
//!
//! The writer runs the transaction itself, on its own thread (it has one,
//! `startup::wiring`) with a connection of its own (`DbPools::inserts`):
//! a hand-off to a database thread and back cost two thread crossings per
//! group, more than the fsync (docs/BENCHMARKS.md, "Eighth session"). It
//! keeps that connection checked out while it is busy (`storage::held`),
//! so a group costs PostgreSQL one round trip, not two.
//! While a transaction runs, new requests wait in the writer's mailbox;
//! a request never starts a transaction from its handler, it schedules
//! one, and actix runs scheduled work only after the mailbox is empty — so
//! the next group takes every request that came meanwhile.
//!
//! One request must not fail the others of its group. When the database
//! refuses a group's transaction because of the data (`StorageError::
//! Refused`: nothing of the group was stored), the writer stores the
//! group's requests again one by one, in order, so only the guilty request
//! fails; a failure that means storage is unavailable fails the group, as
//! it would fail each request alone.

use std::collections::VecDeque;
use std::sync::Arc;

use actix::prelude::*;
use chrono::Utc;
use tokio::sync::oneshot;

use super::messages::{StoreAlerts, Stored};
use crate::delivery::Delivery;
use crate::models::push::PushSchedule;
use crate::models::{AlertView, NewAlert, NewAlertRow, UserId};
use crate::protocol::UserEvent;
use crate::storage::{DbHealth, DbPool, HeldConnection, Retry, StorageError, insert_alerts};
use crate::telemetry::metrics::Metrics;

/// Most alerts stored in one transaction: bounds the time one commit holds
/// SQLite's write lock.
const MAX_GROUP: usize = 5_000;

/// Requests the mailbox holds while a transaction runs (actix's default
/// is 16: a group could not grow past it). A request holds at least one
/// alert, so this is at most one full group; further senders wait.
const MAILBOX: usize = MAX_GROUP;

struct Waiting {
    alerts: Vec<NewAlert>,
    triggered_at_ms: i64,
    redeliver_existing: bool,
    reply: oneshot::Sender<Result<Vec<Stored>, StorageError>>,
}

pub struct AlertWriter {
    conn: HeldConnection,
    health: Arc<DbHealth>,
    delivery: Delivery,
    metrics: Arc<Metrics>,
    queue: VecDeque<Waiting>,
    /// A transaction is scheduled (`schedule`) and has not run yet.
    scheduled: bool,
    /// Web Push: each row's due time is set in the same INSERT.
    push: Option<PushSchedule>,
}

impl AlertWriter {
    pub fn new(
        (pool, health): (DbPool, Arc<DbHealth>),
        delivery: Delivery,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            conn: HeldConnection::new(pool),
            health,
            delivery,
            metrics,
            queue: VecDeque::new(),
            scheduled: false,
            push: None,
        }
    }

    /// Stores each new alert with its Web Push due time (contract §6).
    pub fn with_push_schedule(mut self, push: Option<PushSchedule>) -> Self {
        self.push = push;
        self
    }

    /// Runs `flush` once the mailbox is empty: spawned work runs after
    /// every message already there (actix's `ContextFut::poll`).
    fn schedule(&mut self, ctx: &mut Context<Self>) {
        if !self.scheduled {
            self.scheduled = true;
            ctx.spawn(actix::fut::ready(()).map(|(), act: &mut Self, ctx| {
                act.scheduled = false;
                act.flush(ctx);
            }));
        }
    }

    /// Stores the next group, as many queued requests as fit, in one
    /// transaction on this thread; schedules the one after if any are left.
    fn flush(&mut self, ctx: &mut Context<Self>) {
        let mut group = Vec::new();
        let mut size = 0;
        while let Some(next) = self.queue.front() {
            if !group.is_empty() && size + next.alerts.len() > MAX_GROUP {
                break;
            }
            size += next.alerts.len();
            group.extend(self.queue.pop_front());
        }
        if group.is_empty() {
            return;
        }
        let now = Utc::now();
        let rows: Vec<NewAlertRow> = group
            .iter()
            .flat_map(|w| rows_of(w, now, self.push))
            .collect();
        match self.store(&rows) {
            Err(e) if e.is_refusal() && group.len() > 1 => {
                log::warn!(
                    "the database refused a group of {} trigger request(s) ({e}); \
                     storing them one by one",
                    group.len()
                );
                self.store_one_by_one(group, now);
            }
            result => self.finish(group, result),
        }
        if !self.queue.is_empty() {
            self.schedule(ctx);
        }
    }

    fn store(&mut self, rows: &[NewAlertRow]) -> Result<Vec<Stored>, StorageError> {
        // Idempotent by (`user_id`, `breach_id`): a second run answers
        // "already stored" (`storage::held`).
        self.conn
            .run(&self.health, Retry::Safe, |conn| insert_alerts(conn, rows))
    }

    /// Stores each request of a refused group in a transaction of its own,
    /// in queue order (one user's ids still commit in order). Requests that
    /// arrive meanwhile wait for the next group, as during any transaction.
    fn store_one_by_one(&mut self, group: Vec<Waiting>, now: chrono::DateTime<Utc>) {
        for w in group {
            let rows: Vec<NewAlertRow> = rows_of(&w, now, self.push).collect();
            let result = self.store(&rows);
            self.finish(vec![w], result);
        }
    }

    fn finish(&self, group: Vec<Waiting>, result: Result<Vec<Stored>, StorageError>) {
        let mut stored = match result {
            Ok(stored) => stored.into_iter(),
            Err(e) => {
                if e.is_refusal() {
                    // The alert fields carry no secrets; naming them lets the
                    // operator find the service that sent them.
                    for w in &group {
                        if let Some(a) = w.alerts.first() {
                            log::warn!(
                                "the database refused a request of {} alert(s), the first \
                                 for user {} with breach_id {:?}: {e}",
                                w.alerts.len(),
                                a.user_id,
                                a.breach_id.as_str()
                            );
                        }
                    }
                } else {
                    log::warn!("storing {} trigger request(s) failed: {e}", group.len());
                }
                for w in group {
                    let _ = w.reply.send(Err(e.duplicate()));
                }
                return;
            }
        };
        for w in group {
            let mine: Vec<Stored> = stored.by_ref().take(w.alerts.len()).collect();
            for (row, created) in &mine {
                if *created {
                    self.metrics.alerts_created.inc();
                }
                if !(*created || w.redeliver_existing) {
                    continue;
                }
                // Stored rows passed `UserId::parse` on the way in.
                if let Ok(user) = UserId::parse(&row.user_id) {
                    let alert = AlertView::from(row);
                    let triggered_at_ms = w.triggered_at_ms;
                    self.delivery.publish(
                        user,
                        UserEvent::Alert {
                            alert,
                            triggered_at_ms,
                        },
                    );
                }
            }
            // The caller may have gone (client disconnected); the alert is stored
            // and delivered regardless.
            let _ = w.reply.send(Ok(mine));
        }
    }
}

/// The rows of one request, stamped with its group's creation time.
fn rows_of(
    w: &Waiting,
    now: chrono::DateTime<Utc>,
    push: Option<PushSchedule>,
) -> impl Iterator<Item = NewAlertRow> + '_ {
    w.alerts
        .iter()
        .cloned()
        .map(move |a| NewAlertRow::from_new(a, now, push.as_ref()))
}

impl Actor for AlertWriter {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(MAILBOX);
    }
}

impl Handler<StoreAlerts> for AlertWriter {
    type Result = ResponseFuture<Result<Vec<Stored>, StorageError>>;

    fn handle(&mut self, msg: StoreAlerts, ctx: &mut Context<Self>) -> Self::Result {
        let (reply, rx) = oneshot::channel();
        self.queue.push_back(Waiting {
            alerts: msg.alerts,
            triggered_at_ms: msg.triggered_at_ms,
            redeliver_existing: msg.redeliver_existing,
            reply,
        });
        self.schedule(ctx);
        Box::pin(async move {
            rx.await.unwrap_or_else(|_| {
                Err(StorageError::Unavailable("the alert writer stopped".into()))
            })
        })
    }
}
