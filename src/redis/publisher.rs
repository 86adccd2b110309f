//! Publishes this node's user events to Redis, in the order they were
//! produced: an `alert_update` must reach other nodes before the
//! `unread_count` that follows it. One task drains a queue and sends what
//! has accumulated as one pipeline, so a burst costs one round trip.
//!
//! If Redis is down the batch is dropped (and logged): other nodes recover
//! what they missed from storage when their subscriber reconnects.

use deadpool_redis::redis;
use tokio::sync::mpsc;

use super::{Envelope, RedisContext};
use crate::delivery::UserEvent;
use crate::models::UserId;

/// The most events sent in one pipeline.
const MAX_PIPELINE: usize = 512;

#[derive(Clone)]
pub struct Publisher {
    tx: mpsc::UnboundedSender<(String, String)>,
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
                let _ = self.tx.send((self.ctx.keys.user_channel(user), payload));
            }
            Err(e) => log::error!("cannot serialise an event for user {user}: {e}"),
        }
    }
}

async fn run(ctx: RedisContext, mut rx: mpsc::UnboundedReceiver<(String, String)>) {
    let mut batch = Vec::with_capacity(MAX_PIPELINE);
    while rx.recv_many(&mut batch, MAX_PIPELINE).await > 0 {
        let mut pipe = redis::pipe();
        for (channel, payload) in &batch {
            pipe.publish(channel, payload).ignore();
        }
        let sent = async {
            let mut conn = ctx.pool.get().await.map_err(|e| e.to_string())?;
            pipe.query_async::<()>(&mut conn)
                .await
                .map_err(|e| e.to_string())
        };
        if let Err(e) = sent.await {
            log::warn!(
                "publishing {} event(s) to Redis failed: {e}; other nodes catch up on reconnect",
                batch.len()
            );
        }
        batch.clear();
    }
}
