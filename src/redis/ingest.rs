//! External ingest through the Redis stream `<prefix>ingest`.
//!
//! Services `XADD <prefix>ingest * alert <trigger JSON>`. All nodes read the
//! stream in one consumer group, so each entry goes to one node. An entry is
//! acknowledged only after its alert is stored (and handed to delivery):
//! a node that dies holding entries leaves them pending, and any node takes
//! them over with `XAUTOCLAIM` once they have been idle long enough. The
//! trigger's idempotency — one alert per (user, breach) — makes that
//! re-processing safe: it stores nothing twice and pushes nothing twice.
//!
//! A node that died may have stored an entry and not yet handed it to
//! delivery; so entries taken over are delivered even when already stored,
//! and hubs drop an alert id they already delivered.
//!
//! With several Redis shards, every shard has its own `<prefix>ingest`
//! stream and the same consumer group, and every node runs one consumer per
//! shard: a producer may `XADD` to any shard (the guarantee above holds per
//! stream, and idempotency makes an entry added to two shards one alert).
//! A shard that is down stops only its own stream.
//!
//! An entry that cannot be stored is acknowledged, counted in `/metrics`
//! (`alerthub_ingest_invalid_total`) and logged, because retrying it could
//! never succeed: one that is not a valid trigger at once, one that the
//! database refuses after the rest of its read was stored without it. Only
//! storage being unavailable leaves entries pending.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Recipient;
use chrono::Utc;
use deadpool_redis::redis::{
    self, AsyncCommands,
    streams::{
        StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamReadOptions, StreamReadReply,
    },
};

use super::RedisContext;
use super::publisher::Publisher;
use crate::actors::messages::{StoreAlerts, db_result};
use crate::models::time::now_ms;
use crate::models::{NewAlert, UserId};
use crate::storage::StorageError;
use crate::telemetry::metrics::Metrics;

/// Entries read at once.
const BATCH: usize = 500;
/// How long one read waits for new entries.
const BLOCK_MS: usize = 300;

pub struct IngestConsumer {
    pub ctx: RedisContext,
    /// The shard whose stream this consumer reads.
    pub shard: usize,
    /// This node's publisher: an entry is acknowledged only after its
    /// alert has left for the other nodes.
    pub publisher: Publisher,
    pub consumer: String,
    pub writer: Recipient<StoreAlerts>,
    pub metrics: Arc<Metrics>,
    /// How long an entry stays pending before another node may take it.
    pub claim_idle: Duration,
}

impl IngestConsumer {
    /// Runs until the process ends, reconnecting with backoff.
    pub async fn run(self) {
        let mut backoff = Duration::from_millis(200);
        loop {
            match self.consume().await {
                Ok(()) => backoff = Duration::from_millis(200),
                Err(e) => {
                    log::warn!(
                        "ingest (shard {}): {e}; retrying in {backoff:?}",
                        self.shard
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    }

    /// Reads and stores until an error; returns to let `run` back off.
    async fn consume(&self) -> Result<(), String> {
        let stream = self.ctx.keys.ingest_stream();
        let group = self.ctx.keys.ingest_group();
        let mut conn = self.ctx.shards[self.shard]
            .pool
            .get()
            .await
            .map_err(|e| e.to_string())?;
        // From the start of the stream: entries added before any node ran
        // must be consumed too. BUSYGROUP means another node made it.
        let created: redis::RedisResult<()> =
            conn.xgroup_create_mkstream(&stream, group, "0").await;
        if let Err(e) = created
            && e.code() != Some("BUSYGROUP")
        {
            return Err(e.to_string());
        }
        let mut last_claim = Instant::now() - self.claim_idle;
        loop {
            if last_claim.elapsed() >= self.claim_idle / 2 {
                last_claim = Instant::now();
                self.claim_stale(&mut conn, &stream, group).await?;
            }
            // Shorter than the client's reply timeout (500 ms), which would
            // otherwise end every idle read with an error.
            let options = StreamReadOptions::default()
                .group(group, &self.consumer)
                .count(BATCH)
                .block(BLOCK_MS);
            let reply: StreamReadReply = conn
                .xread_options(&[&stream], &[">"], &options)
                .await
                .map_err(|e| e.to_string())?;
            for key in reply.keys {
                self.process(&mut conn, &stream, group, key.ids, false)
                    .await?;
            }
        }
    }

    /// Takes over entries another consumer left pending too long.
    async fn claim_stale(
        &self,
        conn: &mut deadpool_redis::Connection,
        stream: &str,
        group: &str,
    ) -> Result<(), String> {
        let mut start = "0-0".to_string();
        loop {
            let reply: StreamAutoClaimReply = conn
                .xautoclaim_options(
                    stream,
                    group,
                    &self.consumer,
                    self.claim_idle.as_millis() as u64,
                    &start,
                    StreamAutoClaimOptions::default().count(BATCH),
                )
                .await
                .map_err(|e| e.to_string())?;
            if !reply.claimed.is_empty() {
                log::info!(
                    "ingest: took over {} entries left pending by another consumer",
                    reply.claimed.len()
                );
                self.process(conn, stream, group, reply.claimed, true)
                    .await?;
            }
            if reply.next_stream_id == "0-0" {
                return Ok(());
            }
            start = reply.next_stream_id;
        }
    }

    async fn process(
        &self,
        conn: &mut deadpool_redis::Connection,
        stream: &str,
        group: &str,
        entries: Vec<StreamId>,
        taken_over: bool,
    ) -> Result<(), String> {
        if entries.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        let mut valid_ids = Vec::new();
        let mut alerts = Vec::new();
        let mut invalid_ids = Vec::new();
        for entry in entries {
            match parse_entry(&entry, now) {
                Ok(alert) => {
                    valid_ids.push(entry.id);
                    alerts.push(alert);
                }
                Err(why) => {
                    log::warn!(
                        "ingest: entry {} is not a valid alert ({why}); acknowledged and dropped",
                        entry.id
                    );
                    self.metrics.ingest_invalid.inc();
                    invalid_ids.push(entry.id);
                }
            }
        }
        if !invalid_ids.is_empty() {
            let _: i64 = conn
                .xack(stream, group, &invalid_ids)
                .await
                .map_err(|e| e.to_string())?;
        }
        if alerts.is_empty() {
            return Ok(());
        }
        let count = alerts.len();
        // Kept only to store them one by one should the database refuse
        // the whole read because of one of them.
        let each = alerts.clone();
        let users: Vec<UserId> = alerts.iter().map(|a| a.user_id.clone()).collect();
        match self.store(alerts, taken_over).await {
            Ok(()) => {
                self.acknowledge_stored(conn, stream, group, &valid_ids, &users)
                    .await
            }
            Err(e) if e.is_refusal() => {
                log::warn!(
                    "ingest: the database refused a read of {count} entries ({e}); \
                     storing them one by one"
                );
                self.store_one_by_one(conn, stream, group, valid_ids, each, taken_over)
                    .await
            }
            // Left pending: this or another node claims them again later.
            Err(e) => Err(format!("storing {count} ingested alert(s) failed: {e}")),
        }
    }

    async fn store(&self, alerts: Vec<NewAlert>, taken_over: bool) -> Result<(), StorageError> {
        db_result(
            self.writer
                .send(StoreAlerts {
                    alerts,
                    triggered_at_ms: now_ms(),
                    redeliver_existing: taken_over,
                })
                .await,
        )
        .map(|_| ())
    }

    /// Acknowledges entries whose alerts are stored, once those alerts have
    /// left for the other nodes.
    async fn acknowledge_stored(
        &self,
        conn: &mut deadpool_redis::Connection,
        stream: &str,
        group: &str,
        ids: &[String],
        users: &[UserId],
    ) -> Result<(), String> {
        if ids.is_empty() {
            return Ok(());
        }
        // Only these users' shards: another shard being down must not
        // hold up this stream.
        self.publisher.flushed_for(users).await;
        let _: i64 = conn
            .xack(stream, group, ids)
            .await
            .map_err(|e| e.to_string())?;
        self.metrics.ingest_stored.inc_by(ids.len() as u64);
        Ok(())
    }

    /// After the database refused a read as a whole: each entry alone, so
    /// only the ones it refuses are dropped (acknowledged, counted and
    /// logged). Storage becoming unavailable stops the walk and leaves the
    /// rest pending.
    async fn store_one_by_one(
        &self,
        conn: &mut deadpool_redis::Connection,
        stream: &str,
        group: &str,
        ids: Vec<String>,
        alerts: Vec<NewAlert>,
        taken_over: bool,
    ) -> Result<(), String> {
        let mut stored = Vec::new();
        let mut users = Vec::new();
        let mut refused = Vec::new();
        let mut outcome = Ok(());
        for (id, alert) in ids.into_iter().zip(alerts) {
            let (user, breach) = (alert.user_id.clone(), alert.breach_id.clone());
            match self.store(vec![alert], taken_over).await {
                Ok(()) => {
                    stored.push(id);
                    users.push(user);
                }
                Err(e) if e.is_refusal() => {
                    log::warn!(
                        "ingest: entry {id} (user {user}, breach_id {:?}) was refused by the \
                         database ({e}); acknowledged and dropped",
                        breach.as_str()
                    );
                    self.metrics.ingest_invalid.inc();
                    refused.push(id);
                }
                Err(e) => {
                    outcome = Err(format!("storing ingested alert {id} failed: {e}"));
                    break;
                }
            }
        }
        if !refused.is_empty() {
            let _: i64 = conn
                .xack(stream, group, &refused)
                .await
                .map_err(|e| e.to_string())?;
        }
        self.acknowledge_stored(conn, stream, group, &stored, &users)
            .await?;
        outcome
    }
}

fn parse_entry(entry: &StreamId, now: chrono::DateTime<Utc>) -> Result<NewAlert, String> {
    let raw: String = entry
        .get("alert")
        .ok_or("no \"alert\" field holding UTF-8 text")?;
    let value: serde_json::Value =
        serde_json::from_str(&raw).map_err(|e| format!("invalid JSON: {e}"))?;
    NewAlert::parse(&value, now)
        .map_err(|fields| serde_json::to_string(&fields).unwrap_or_default())
}
