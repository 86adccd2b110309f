//! Publishes this node's user events to Redis, in the order they were
//! produced: an `alert_update` must reach other nodes before the
//! `unread_count` that follows it. One task drains a queue and sends what
//! has accumulated as one pipeline, so a burst costs one round trip.
//!
//! If Redis is down the batch is dropped (and logged): other nodes recover
//! what they missed from storage when their subscriber reconnects.
//!
//! `flushed` lets the ingest consumer acknowledge a stream entry only once
//! its alert has left for Redis: acknowledging earlier, a node killed in
//! between would leave an entry nobody takes over and an alert nobody pushed.

use deadpool_redis::redis;
use tokio::sync::{mpsc, oneshot};

use super::{ControlEnvelope, Envelope, RedisContext};
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
    tx: mpsc::UnboundedSender<Item>,
    ctx: RedisContext,
    node_id: String,
}

impl Publisher {
    /// Starts the publishing task on the current runtime.
    pub fn start(ctx: RedisContext, node_id: String) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        actix_web::rt::spawn(run(ctx.clone(), rx));
        Self { tx, ctx, node_id }
    }

    pub fn publish(&self, user: &UserId, event: UserEvent) {
        let envelope = Envelope {
            origin: self.node_id.clone(),
            event,
        };
        match serde_json::to_string(&envelope) {
            Ok(payload) => {
                let _ = self
                    .tx
                    .send(Item::Event(self.ctx.keys.user_channel(user), payload));
            }
            Err(e) => log::error!("cannot serialise an event for user {user}: {e}"),
        }
    }

    /// Publishes a control event on the channel every node subscribes.
    pub fn publish_control(&self, control: &ControlEvent) {
        let envelope = ControlEnvelope {
            origin: self.node_id.clone(),
            control: control.clone(),
        };
        match serde_json::to_string(&envelope) {
            Ok(payload) => {
                let _ = self
                    .tx
                    .send(Item::Event(self.ctx.keys.control_channel(), payload));
            }
            Err(e) => log::error!("cannot serialise a control event: {e}"),
        }
    }

    /// Waits until every event published before this call was sent to
    /// Redis (or dropped because Redis was down).
    pub async fn flushed(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Item::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

async fn run(ctx: RedisContext, mut rx: mpsc::UnboundedReceiver<Item>) {
    let mut batch = Vec::with_capacity(MAX_PIPELINE);
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
        if events > 0 {
            let sent = async {
                let mut conn = ctx.pool.get().await.map_err(|e| e.to_string())?;
                pipe.query_async::<()>(&mut conn)
                    .await
                    .map_err(|e| e.to_string())
            };
            if let Err(e) = sent.await {
                log::warn!(
                    "publishing {events} event(s) to Redis failed: {e}; other nodes catch up on reconnect"
                );
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}
