//! How far behind the ingest stream's consumer group is, for `/metrics`:
//! entries handed out and not yet acknowledged, how old the oldest of them
//! is, and entries not yet handed to any node. Every node reads the same
//! group, so every node reports the same cluster-wide values. With several
//! Redis shards the streams' backlogs add up (the oldest age is the oldest
//! of all); if a shard does not answer, the scrape goes on without a
//! reading.

use std::time::Duration;

use deadpool_redis::redis::{
    self, AsyncCommands,
    streams::{StreamInfoGroupsReply, StreamPendingReply},
};

use super::{RedisContext, RedisShard};
use crate::models::time::now_ms;
use crate::telemetry::node_gauges::IngestBacklog;

/// How long reading the backlog may take before the scrape goes on without it.
const TIMEOUT: Duration = Duration::from_secs(2);

/// The backlog, or `None` when Redis did not answer in time. A stream or
/// group that does not exist yet has no backlog.
pub async fn ingest_backlog(ctx: &RedisContext) -> Option<IngestBacklog> {
    let read_all = async {
        let mut total = IngestBacklog::default();
        for shard in ctx.shards.iter() {
            let one = read(ctx, shard).await?;
            total.pending += one.pending;
            total.oldest_pending_age_secs = total
                .oldest_pending_age_secs
                .max(one.oldest_pending_age_secs);
            total.undelivered = match (total.undelivered, one.undelivered) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            };
        }
        Ok::<_, redis::RedisError>(total)
    };
    tokio::time::timeout(TIMEOUT, read_all)
        .await
        .ok()
        .and_then(Result::ok)
}

async fn read(ctx: &RedisContext, shard: &RedisShard) -> Result<IngestBacklog, redis::RedisError> {
    let mut conn = shard.pool.get().await.map_err(|e| {
        redis::RedisError::from((redis::ErrorKind::Io, "no pooled connection", e.to_string()))
    })?;
    let stream = ctx.keys.ingest_stream();
    let group = ctx.keys.ingest_group();
    let exists: bool = conn.exists(&stream).await?;
    if !exists {
        return Ok(IngestBacklog::default());
    }
    let groups: StreamInfoGroupsReply = conn.xinfo_groups(&stream).await?;
    let Some(info) = groups.groups.into_iter().find(|g| g.name == group) else {
        return Ok(IngestBacklog::default());
    };
    let oldest_pending_age_secs = match conn.xpending(&stream, group).await? {
        StreamPendingReply::Data(data) if data.count > 0 => age_secs(&data.start_id),
        _ => 0,
    };
    Ok(IngestBacklog {
        pending: info.pending as u64,
        oldest_pending_age_secs,
        undelivered: info.lag.map(|n| n as u64),
    })
}

/// Seconds since the entry with this stream id (`<ms>-<seq>`) was added.
fn age_secs(id: &str) -> u64 {
    let added_ms = id
        .split_once('-')
        .map_or(id, |(ms, _)| ms)
        .parse::<i64>()
        .unwrap_or_else(|_| now_ms());
    u64::try_from(now_ms().saturating_sub(added_ms) / 1000).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_comes_from_the_id_milliseconds() {
        let ten_s_ago = format!("{}-3", now_ms() - 10_500);
        assert_eq!(age_secs(&ten_s_ago), 10);
        // A clock ahead of this node's gives 0, not a wrapped number.
        assert_eq!(age_secs(&format!("{}-0", now_ms() + 60_000)), 0);
        assert_eq!(age_secs("garbage"), 0);
    }
}
