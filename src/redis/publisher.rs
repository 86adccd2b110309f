//! Publishes this node's user events to Redis, in the order they were
//! produced: an `alert_update` must reach other nodes before the
//! `unread_count` that follows it. One task drains a queue and sends what
//! has accumulated as one pipeline, so a burst costs one round trip.
//!
//! If Redis is down the batch is dropped (and logged): other nodes recover
//! what they missed from storage when their subscriber reconnects.
//!
//! With several shards there is one queue and one task per shard: a user's
//! events all go to that user's shard, so their order is kept, and a slow
//! or absent shard does not hold up the others.
//!
//! `flushed_for` lets the ingest consumer acknowledge a stream entry only once
//! its alert has left for Redis: acknowledging earlier, a node killed in
//! between would leave an entry nobody takes over and an alert nobody pushed.

use deadpool_redis::{Connection, redis};
use tokio::sync::{mpsc, oneshot};

use super::{CONTROL_SHARD, ControlEnvelope, Envelope, RedisContext, RedisShard};
use crate::models::UserId;
use crate::protocol::{ControlEvent, UserEvent};

/// The most events sent in one pipeline.
const MAX_PIPELINE: usize = 512;

enum Item {
    /// An event for a channel: (channel, payload).
    Event(String, String),
    /// Answered once everything queued before it was sent (or dropped).
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct Publisher {
    /// One queue per shard, by shard index.
    tx: Vec<mpsc::UnboundedSender<Item>>,
    ctx: RedisContext,
    node_id: String,
}

impl Publisher {
    /// Starts one publishing task per shard on the current runtime.
    pub fn start(ctx: RedisContext, node_id: String) -> Self {
        let tx = ctx
            .shards
            .iter()
            .map(|shard| {
                let (tx, rx) = mpsc::unbounded_channel();
                actix_web::rt::spawn(run(shard.clone(), rx));
                tx
            })
            .collect();
        Self { tx, ctx, node_id }
    }

    pub fn publish(&self, user: &UserId, event: UserEvent) {
        let envelope = Envelope {
            origin: self.node_id.clone(),
            event,
        };
        match serde_json::to_string(&envelope) {
            Ok(payload) => {
                let shard = self.ctx.shard_of(user).index;
                let _ = self.tx[shard].send(Item::Event(self.ctx.keys.user_channel(user), payload));
            }
            Err(e) => log::error!("cannot serialise an event for user {user}: {e}"),
        }
    }

    /// Publishes a control event on the control channel, on the first
    /// shard: every node subscribes it there (contract §5).
    pub fn publish_control(&self, control: &ControlEvent) {
        let envelope = ControlEnvelope {
            origin: self.node_id.clone(),
            control: control.clone(),
        };
        match serde_json::to_string(&envelope) {
            Ok(payload) => {
                let _ = self.tx[CONTROL_SHARD]
                    .send(Item::Event(self.ctx.keys.control_channel(), payload));
            }
            Err(e) => log::error!("cannot serialise a control event: {e}"),
        }
    }

    /// Waits until every event published before this call for these users
    /// was sent to Redis (or dropped because their shard was down): only
    /// their shards' queues are waited for.
    pub async fn flushed_for(&self, users: &[UserId]) {
        let mut shards: Vec<usize> = users.iter().map(|u| self.ctx.shard_of(u).index).collect();
        shards.sort_unstable();
        shards.dedup();
        let mut waits = Vec::with_capacity(shards.len());
        for shard in shards {
            let (done, wait) = oneshot::channel();
            if self.tx[shard].send(Item::Flush(done)).is_ok() {
                waits.push(wait);
            }
        }
        // The shards' tasks run concurrently; waiting in turn costs no more
        // than the slowest of them.
        for wait in waits {
            let _ = wait.await;
        }
    }
}

async fn run(shard: RedisShard, mut rx: mpsc::UnboundedReceiver<Item>) {
    let mut batch = Vec::with_capacity(MAX_PIPELINE);
    // Kept between pipelines: each check-out from the pool costs a round
    // trip of its own (deadpool-redis sends `UNWATCH` and `PING` to check
    // the connection), which doubled the round trips of every alert's way
    // to the other nodes (docs/capacity.md, "Twelfth session").
    let mut held: Option<Connection> = None;
    while rx.recv_many(&mut batch, MAX_PIPELINE).await > 0 {
        let mut pipe = redis::pipe();
        let mut events = 0;
        let mut flushes = Vec::new();
        for item in batch.drain(..) {
            match item {
                Item::Event(channel, payload) => {
                    pipe.publish(channel, payload).ignore();
                    events += 1;
                }
                Item::Flush(done) => flushes.push(done),
            }
        }
        if events > 0
            && let Err(e) = send(&shard, &mut held, &pipe).await
        {
            log::warn!(
                "publishing {events} event(s) to Redis shard {} failed: {e}; other nodes catch up on reconnect",
                shard.index
            );
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

/// Sends `pipe` on the held connection, or on one checked out of the pool
/// (and then held) if none is held or the held one fails: a connection held
/// across a Redis restart is dead, and the pool's check finds a live one.
/// An alert sent twice that way is dropped by the hubs (`actors::hub`); a
/// read-state event sent twice states the same thing again.
async fn send(
    shard: &RedisShard,
    held: &mut Option<Connection>,
    pipe: &redis::Pipeline,
) -> Result<(), String> {
    if let Some(conn) = held {
        if pipe.query_async::<()>(conn).await.is_ok() {
            return Ok(());
        }
        // Back to the pool, whose check drops it if it is broken.
        *held = None;
    }
    let conn = held.insert(shard.pool.get().await.map_err(|e| e.to_string())?);
    let sent = pipe
        .query_async::<()>(conn)
        .await
        .map_err(|e| e.to_string());
    if sent.is_err() {
        *held = None;
    }
    sent
}
