//! `RedisSubscriber`: this node's dedicated pub/sub connection to one Redis
//! shard. A node runs one per shard (`startup/wiring.rs`); each only hears
//! about the users on its shard, so losing a shard deafens a node to those
//! users alone, and only their hubs catch up when it returns.
//!
//! The registry tells it when a user's first session here arrives and
//! their last one leaves; it subscribes to the user's channel meanwhile, so
//! a node only receives events for users it holds sessions of, and says
//! when Redis confirmed the subscription (the session is greeted then).
//! Events are handed to the `Registry` unless this node published them
//! itself (it delivered those locally already).
//!
//! The subscriber of the first shard (`redis::CONTROL_SHARD`) also
//! subscribes the control channel, always: a credential that ended on
//! another node (contract §5) is handed to the registry as `Control`.
//!
//! When the connection drops, the node keeps serving local sessions; the
//! subscriber reconnects with backoff, resubscribes every channel, and then
//! asks every hub to catch up from storage on what it may have missed while
//! it was deaf.

use std::collections::HashSet;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use deadpool_redis::redis;
use tokio::sync::{mpsc, watch};

use super::messages::{CatchUp, Control, Deliver, Subscribe, Unsubscribe};
use crate::models::UserId;
use crate::redis::{CONTROL_SHARD, ControlEnvelope, Envelope, RedisContext};

/// How far before a detected outage a catch-up looks: events published
/// just before the connection was seen to drop may be lost too.
const CATCH_UP_MARGIN: chrono::Duration = chrono::Duration::seconds(10);
/// How often a quiet connection is checked with a PING.
const PING_EVERY: Duration = Duration::from_secs(5);
/// The most channels one SUBSCRIBE carries.
const SUBSCRIBE_AT_ONCE: usize = 512;

enum Op {
    /// Subscribe, then say so.
    Subscribe(String, watch::Sender<bool>),
    Unsubscribe(String),
}

pub struct RedisSubscriber {
    ctx: RedisContext,
    /// The index of this subscriber's shard in `ctx.shards`.
    shard: usize,
    node_id: String,
    /// Where other nodes' events go (this node's registry).
    deliver: Recipient<Deliver>,
    catch_up: Recipient<CatchUp>,
    control: Recipient<Control>,
    /// The users with a session on this node.
    users: HashSet<UserId>,
    /// Ordered subscribe/unsubscribe commands for the current connection.
    ops: Option<mpsc::UnboundedSender<Op>>,
    stream: Option<SpawnHandle>,
    down_since: Option<DateTime<Utc>>,
    backoff: Duration,
    /// Which connection a `Live` or `ConnectionLost` report is about: a
    /// report from a replaced connection is ignored.
    generation: u64,
}

impl RedisSubscriber {
    pub fn new(
        ctx: RedisContext,
        shard: usize,
        node_id: String,
        deliver: Recipient<Deliver>,
        catch_up: Recipient<CatchUp>,
        control: Recipient<Control>,
    ) -> Self {
        Self {
            ctx,
            shard,
            node_id,
            deliver,
            catch_up,
            control,
            users: HashSet::new(),
            ops: None,
            stream: None,
            down_since: Some(Utc::now()),
            backoff: Duration::from_millis(100),
            generation: 0,
        }
    }

    fn connect(&mut self, ctx: &mut Context<Self>) {
        let client = self.ctx.shards[self.shard].client.clone();
        async move {
            match tokio::time::timeout(Duration::from_secs(5), client.get_async_pubsub()).await {
                Ok(Ok(pubsub)) => Ok(pubsub.split()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("connecting timed out".to_string()),
            }
        }
        .into_actor(self)
        .map(|result, act, ctx| match result {
            Ok((sink, stream)) => act.connected(sink, stream, ctx),
            Err(e) => act.retry(&e, ctx),
        })
        .wait(ctx);
    }

    fn connected(
        &mut self,
        sink: redis::aio::PubSubSink,
        stream: redis::aio::PubSubStream,
        ctx: &mut Context<Self>,
    ) {
        // The command queue exists before the snapshot of channels is taken,
        // so nothing that changes in between is lost (a repeated SUBSCRIBE is
        // harmless).
        let (tx, rx) = mpsc::unbounded_channel();
        let control = (self.shard == CONTROL_SHARD).then(|| self.ctx.keys.control_channel());
        let channels: Vec<String> = control
            .into_iter()
            .chain(self.users.iter().map(|u| self.ctx.keys.user_channel(u)))
            .collect();
        self.ops = Some(tx);
        self.stream = Some(ctx.add_stream(stream));
        self.generation += 1;
        let me = ctx.address();
        actix_web::rt::spawn(run_ops(sink, channels, rx, me, self.generation));
    }

    fn retry(&mut self, why: &str, ctx: &mut Context<Self>) {
        log::warn!(
            "redis subscriber (shard {}): {why}; reconnecting in {:?}",
            self.shard,
            self.backoff
        );
        ctx.run_later(self.backoff, |act, ctx| act.connect(ctx));
        self.backoff = (self.backoff * 2).min(Duration::from_secs(5));
    }

    fn lost(&mut self, why: &str, ctx: &mut Context<Self>) {
        self.ctx.health.set_subscriber_up(self.shard, false);
        self.ops = None;
        if let Some(handle) = self.stream.take() {
            ctx.cancel_future(handle);
        }
        if self.down_since.is_none() {
            self.down_since = Some(Utc::now());
            log::warn!(
                "redis subscriber (shard {}): connection lost ({why}); local sessions are still served",
                self.shard
            );
        }
        self.retry(why, ctx);
    }

    /// Queues a command for the connection; without one it is dropped
    /// (and a `Subscribe`'s waiters go on: the catch-up when the
    /// connection is back covers them).
    fn send_op(&self, op: Op) {
        if let Some(ops) = &self.ops {
            let _ = ops.send(op);
        }
    }
}

/// Subscribes the snapshot, reports the node live, then applies commands
/// in order; a failure, or Redis not answering within `PING_EVERY`, means
/// the connection is gone. Subscribes queued meanwhile go in one command:
/// sessions wait for them before their greeting, and in a reconnect storm
/// one round trip each, in a row, would add up.
async fn run_ops(
    mut sink: redis::aio::PubSubSink,
    channels: Vec<String>,
    mut rx: mpsc::UnboundedReceiver<Op>,
    subscriber: Addr<RedisSubscriber>,
    generation: u64,
) {
    let lost = |why: String| subscriber.do_send(ConnectionLost { generation, why });
    for some in channels.chunks(SUBSCRIBE_AT_ONCE) {
        if let Err(why) = answered("SUBSCRIBE", sink.subscribe(some)).await {
            return lost(why);
        }
    }
    subscriber.do_send(Live { generation });
    // An op taken from the queue while gathering subscribes, not yet run.
    let mut held = None;
    loop {
        let next = match held.take() {
            Some(op) => Ok(Some(op)),
            None => tokio::time::timeout(PING_EVERY, rx.recv()).await,
        };
        let result = match next {
            Ok(Some(Op::Subscribe(channel, listening))) => {
                let (mut channels, mut waiting) = (vec![channel], vec![listening]);
                while channels.len() < SUBSCRIBE_AT_ONCE {
                    match rx.try_recv() {
                        Ok(Op::Subscribe(channel, listening)) => {
                            channels.push(channel);
                            waiting.push(listening);
                        }
                        Ok(other) => {
                            held = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let result = answered("SUBSCRIBE", sink.subscribe(&channels)).await;
                if result.is_ok() {
                    for listening in waiting {
                        let _ = listening.send(true);
                    }
                }
                result
            }
            Ok(Some(Op::Unsubscribe(channel))) => {
                answered("UNSUBSCRIBE", sink.unsubscribe(channel)).await
            }
            Ok(None) => return, // replaced by a newer connection
            Err(_) => answered("PING", sink.ping::<()>()).await,
        };
        if let Err(why) = result {
            return lost(why);
        }
    }
}

/// Runs a command; no answer within `PING_EVERY` counts as a failure.
async fn answered(
    name: &str,
    command: impl Future<Output = redis::RedisResult<()>>,
) -> Result<(), String> {
    match tokio::time::timeout(PING_EVERY, command).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!("{name} timed out")),
    }
}

impl Actor for RedisSubscriber {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.connect(ctx);
    }
}

/// The connection works and every channel is subscribed again.
#[derive(Message)]
#[rtype(result = "()")]
struct Live {
    generation: u64,
}

impl Handler<Live> for RedisSubscriber {
    type Result = ();

    fn handle(&mut self, msg: Live, _: &mut Context<Self>) {
        if msg.generation != self.generation || self.ops.is_none() {
            return;
        }
        self.ctx.health.set_subscriber_up(self.shard, true);
        self.backoff = Duration::from_millis(100);
        if let Some(since) = self.down_since.take() {
            log::info!(
                "redis subscriber (shard {}): connected; {} channel(s) subscribed",
                self.shard,
                self.users.len()
            );
            self.catch_up.do_send(CatchUp {
                since: since - CATCH_UP_MARGIN,
                shard: Some((self.shard, self.ctx.shards.len())),
            });
        }
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct ConnectionLost {
    generation: u64,
    why: String,
}

impl Handler<ConnectionLost> for RedisSubscriber {
    type Result = ();

    fn handle(&mut self, msg: ConnectionLost, ctx: &mut Context<Self>) {
        if msg.generation == self.generation && self.ops.is_some() {
            self.lost(&msg.why, ctx);
        }
    }
}

impl StreamHandler<redis::Msg> for RedisSubscriber {
    fn handle(&mut self, msg: redis::Msg, _: &mut Context<Self>) {
        if msg.get_channel_name() == self.ctx.keys.control_channel() {
            match serde_json::from_slice::<ControlEnvelope>(msg.get_payload_bytes()) {
                Ok(envelope) if envelope.origin == self.node_id => {}
                Ok(envelope) => self.control.do_send(Control(envelope.control)),
                Err(e) => log::warn!("redis subscriber: unreadable control event: {e}"),
            }
            return;
        }
        let Some(user) = self.ctx.keys.user_of_channel(msg.get_channel_name()) else {
            return;
        };
        match serde_json::from_slice::<Envelope>(msg.get_payload_bytes()) {
            Ok(envelope) if envelope.origin == self.node_id => {}
            Ok(envelope) => self.deliver.do_send(Deliver {
                user,
                event: envelope.event,
            }),
            Err(e) => log::warn!(
                "redis subscriber (shard {}): unreadable event on {}: {e}",
                self.shard,
                msg.get_channel_name()
            ),
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        // The stream ends when the connection does; do not stop the actor.
        self.stream = None;
        if self.ops.is_some() {
            self.lost("connection closed", ctx);
        }
    }
}

impl Handler<Subscribe> for RedisSubscriber {
    type Result = ();

    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) {
        let channel = self.ctx.keys.user_channel(&msg.user);
        self.users.insert(msg.user);
        self.send_op(Op::Subscribe(channel, msg.listening));
    }
}

impl Handler<Unsubscribe> for RedisSubscriber {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, _: &mut Context<Self>) {
        if self.users.remove(&msg.0) {
            self.send_op(Op::Unsubscribe(self.ctx.keys.user_channel(&msg.0)));
        }
    }
}
