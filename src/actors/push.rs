//! `PushActor`: sends Web Push messages (contract §6) for alerts still
//! unread after the delay, to every subscription of their user.
//!
//! The schedule is in the database, not here: every poll the actor claims a
//! small batch of due alerts for this node (storage's conditional UPDATE,
//! so exactly one node gets each), sends each message with bounded
//! concurrency and a timeout, and records the outcome — delivered, gone
//! (404/410: the subscription is deleted), refused for good, or due again
//! later (429/5xx/no answer: backoff, honouring `Retry-After`, up to the
//! TTL). The actor runs on an arbiter of its own and reaches storage only
//! through the `DbActor`, so a slow or dead push service holds up neither
//! triggers nor WebSocket delivery.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use chrono::{NaiveDateTime, SubsecRound, Utc};
use futures_util::StreamExt;

use super::messages::db_result;
use super::messages::push::{ClaimDuePushes, PushHealth, PushStorage, RecordPushOutcomes};
use crate::config::{Limits, PushSettings};
use crate::models::time::now_ms;
use crate::push::{Answer, PushMessage, VapidKey, build_message, payload, retry_delay};
use crate::storage::{PushJob, PushOutcome};
use crate::telemetry::metrics::Metrics;

pub struct PushActor {
    node: String,
    storage: PushStorage,
    vapid: VapidKey,
    settings: PushSettings,
    limits: Limits,
    metrics: Arc<Metrics>,
    health: Arc<PushHealth>,
    /// Created when the actor starts, on its own arbiter (not `Send`).
    client: Option<awc::Client>,
    polling: bool,
}

impl PushActor {
    pub fn new(
        node: String,
        storage: PushStorage,
        vapid: VapidKey,
        settings: PushSettings,
        limits: Limits,
        metrics: Arc<Metrics>,
        health: Arc<PushHealth>,
    ) -> Self {
        Self {
            node,
            storage,
            vapid,
            settings,
            limits,
            metrics,
            health,
            client: None,
            polling: false,
        }
    }

    /// Claims a batch, sends it, records it, and sleeps until the next
    /// alert can be due: at once while batches come back full, else at the
    /// earliest pending due time or lease end, and at most the push delay
    /// (an alert stored from now on is due no sooner), never sooner than
    /// the poll interval. An idle node looks once per delay, not per second.
    fn poll(&mut self, ctx: &mut Context<Self>) {
        let Some(client) = self.client.clone() else {
            return;
        };
        if self.polling {
            return;
        }
        self.polling = true;
        let now = Utc::now().trunc_subsecs(6).naive_utc();
        let lease = chrono::Duration::from_std(self.limits.push_lease)
            .unwrap_or(chrono::Duration::seconds(60));
        let claim = ClaimDuePushes {
            node: self.node.clone(),
            now,
            lease_until: now + lease,
            limit: self.limits.push_batch,
        };
        let storage = self.storage.clone();
        let send = Sender {
            client,
            vapid: self.vapid.clone(),
            settings: self.settings.clone(),
            concurrency: self.limits.push_concurrency,
            metrics: self.metrics.clone(),
        };
        let node = self.node.clone();
        let health = self.health.clone();
        let batch = self.limits.push_batch;
        let (interval, delay) = (self.limits.push_poll_interval, self.settings.schedule.delay);
        async move {
            let (jobs, next) = match db_result(storage.claim.send(claim).await) {
                Ok(answer) => answer,
                Err(e) => {
                    log::warn!("web push: cannot claim due alerts: {e}");
                    return interval;
                }
            };
            health.poll_succeeded(now_ms());
            if jobs.is_empty() {
                return wait_until(next, interval, delay);
            }
            let full = jobs.len() as i64 >= batch;
            let outcomes = send.all(jobs).await;
            let record = RecordPushOutcomes { node, outcomes };
            if let Err(e) = db_result(storage.record.send(record).await) {
                // The claims lapse and another poll sends what is left.
                log::warn!("web push: cannot record outcomes: {e}");
                return interval;
            }
            // Retries were just scheduled: look again soon.
            if full { Duration::ZERO } else { interval }
        }
        .into_actor(self)
        .map(|wait, act, ctx| {
            act.polling = false;
            if wait.is_zero() {
                act.poll(ctx);
            } else {
                ctx.run_later(wait, |act, ctx| act.poll(ctx));
            }
        })
        .spawn(ctx);
    }
}

/// How long to sleep after a poll that found nothing: until `next`, but
/// at least `interval` and at most `delay` (or `interval` when the delay
/// is shorter).
fn wait_until(next: Option<NaiveDateTime>, interval: Duration, delay: Duration) -> Duration {
    let longest = delay.max(interval);
    let until_next = next.map_or(longest, |at| {
        (at - Utc::now().naive_utc())
            .to_std()
            .unwrap_or(Duration::ZERO)
    });
    until_next.clamp(interval, longest)
}

impl Actor for PushActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let timeout = self.limits.push_send_timeout;
        self.client = Some(
            awc::Client::builder()
                .connector(awc::Connector::new().timeout(timeout))
                .timeout(timeout)
                .disable_redirects()
                .finish(),
        );
        // Each poll schedules the next; the first comes one interval after
        // the start (a test server's interval is an hour: it stays quiet).
        ctx.run_later(self.limits.push_poll_interval, |act, ctx| act.poll(ctx));
    }
}

/// What sending a batch needs, apart from the actor (moved into its future).
struct Sender {
    client: awc::Client,
    vapid: VapidKey,
    settings: PushSettings,
    concurrency: usize,
    metrics: Arc<Metrics>,
}

impl Sender {
    /// Every message of every job, at most `concurrency` at a time; one
    /// outcome per job.
    async fn all(&self, jobs: Vec<PushJob>) -> Vec<PushOutcome> {
        let now_secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut sends = Vec::new();
        let mut outcomes: Vec<PushOutcome> = Vec::with_capacity(jobs.len());
        for (i, job) in jobs.iter().enumerate() {
            outcomes.push(PushOutcome {
                alert_id: job.alert.id,
                ..PushOutcome::default()
            });
            let body = payload(&job.alert, self.settings.payload);
            for sub in &job.targets {
                let ttl = self.settings.ttl;
                match build_message(sub, &job.alert, body.clone(), ttl, &self.vapid, now_secs) {
                    Ok(message) => sends.push((i, sub.id, message)),
                    Err(e) => {
                        log::warn!("web push: subscription {} skipped: {e}", sub.id);
                        self.metrics.push_failed.inc();
                        outcomes[i].failed.push(sub.id);
                    }
                }
            }
        }
        let answers: Vec<(usize, i64, Answer)> = futures_util::stream::iter(sends)
            .map(|(i, sub, message)| async move { (i, sub, self.send(sub, message).await) })
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        let mut asked: Vec<Option<Option<Duration>>> = vec![None; jobs.len()];
        for (i, sub, answer) in answers {
            let o = &mut outcomes[i];
            match answer {
                Answer::Delivered => {
                    self.metrics.push_sent.inc();
                    o.sent.push(sub);
                }
                Answer::Gone => {
                    self.metrics.push_expired_subscriptions.inc();
                    o.gone.push(sub);
                }
                Answer::Refused(_) => {
                    self.metrics.push_failed.inc();
                    o.failed.push(sub);
                }
                Answer::Retry(after) => {
                    self.metrics.push_failed.inc();
                    // The longest wait any subscription of the alert asked for.
                    asked[i] = Some(asked[i].flatten().max(after).or(after));
                }
            }
        }
        for ((job, o), asked) in jobs.iter().zip(outcomes.iter_mut()).zip(asked) {
            if let Some(after) = asked {
                o.retry_at = self.retry_at(job, after);
                if o.retry_at.is_none() {
                    log::warn!(
                        "web push: alert {} given up after {} attempt(s): its TTL has run out",
                        job.alert.id,
                        job.attempts + 1
                    );
                }
            }
        }
        outcomes
    }

    /// When to try again, or `None` once the TTL (counted from when the
    /// alert first became due) would have run out.
    fn retry_at(&self, job: &PushJob, asked: Option<Duration>) -> Option<NaiveDateTime> {
        let wait = retry_delay(job.attempts, asked);
        let first_due = job.alert.created_at + chrono_of(self.settings.schedule.delay);
        let deadline = first_due + chrono_of(self.settings.ttl);
        let at = Utc::now().naive_utc() + chrono_of(wait);
        (at <= deadline).then(|| at.trunc_subsecs(6))
    }

    /// One request; no answer in time counts as worth retrying.
    async fn send(&self, sub: i64, message: PushMessage) -> Answer {
        let mut request = self.client.post(&message.endpoint);
        for (name, value) in &message.headers {
            request = request.insert_header((name.as_str(), value.as_str()));
        }
        match request.send_body(message.body).await {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                // Read (a little of) the body so the connection can be reused.
                let _ = response.body().limit(4096).await;
                let answer = Answer::of(status, retry_after.as_deref());
                if let Answer::Refused(status) = answer {
                    log::warn!("web push: subscription {sub}: the push service answered {status}");
                }
                answer
            }
            Err(e) => {
                log::debug!("web push: subscription {sub}: {e}");
                Answer::Retry(None)
            }
        }
    }
}

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}
