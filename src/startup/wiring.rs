//! Starts the actors and hands each the `Recipient`s it needs, in an order
//! that needs no address attached after start: the registry's address
//! exists (through its `Context`) before the registry runs, so the Redis
//! subscriber, `Delivery` and the hubs can be given it.

use std::sync::Arc;

use actix::prelude::*;

use crate::actors::db::DbActor;
use crate::actors::heartbeat::Heartbeat;
use crate::actors::hub::{AlertHub, HubServices};
use crate::actors::messages::push::{PushHealth, PushStorage};
use crate::actors::messages::{
    HeartbeatHandle, HubFactory, RegistryHandle, SessionStorage, SubscriberHandle,
};
use crate::actors::messages::{SignOutsSince, db_result};
use crate::actors::push::PushActor;
use crate::actors::redis_subscriber::RedisSubscriber;
use crate::actors::registry::Registry;
use crate::actors::retention::{Policy, Retention};
use crate::actors::session::SessionServices;
use crate::actors::writer::AlertWriter;
use crate::auth::introspection::Introspector;
use crate::auth::lookup::TokenLookup;
use crate::auth::sign_outs::{POLL_EVERY, POLL_MARGIN};
use crate::auth::{Authenticator, JwtVerifier, SignOuts};
use crate::config::Settings;
use crate::delivery::Delivery;
use crate::push::VapidKey;
use crate::rate_limit::connect::ConnectLimiter;
use crate::redis::RedisContext;
use crate::redis::ingest::IngestConsumer;
use crate::redis::publisher::Publisher;
use crate::storage::{DbHealth, DbPools};
use crate::telemetry::metrics::Metrics;

use super::allocator;

/// The running actors that the HTTP layer talks to.
pub struct Actors {
    pub db: Addr<DbActor>,
    pub push_health: Arc<PushHealth>,
    /// What the storage calls last said about the database.
    pub db_health: Arc<DbHealth>,
    pub registry: Addr<Registry>,
    pub writer: Addr<AlertWriter>,
    pub sessions: Arc<SessionServices>,
    pub auth: Authenticator,
    pub delivery: Delivery,
}

/// What the `Authenticator` is made of besides storage.
pub struct AuthParts {
    pub jwt: JwtVerifier,
    pub tokens: Arc<TokenLookup>,
    /// Every sign-out stored so far, read at start.
    pub sign_outs: Arc<SignOuts>,
    pub service_keys: Vec<String>,
}

pub fn start(
    settings: &Settings,
    pools: DbPools,
    metrics: Arc<Metrics>,
    redis: Option<&RedisContext>,
    auth: AuthParts,
    vapid: Option<VapidKey>,
) -> Actors {
    let node = settings.node_id.clone();
    let registry_ctx = Context::<Registry>::new();
    let registry = registry_ctx.address();

    let publisher = redis.map(|r| Publisher::start(r.clone(), node.clone()));
    let delivery = Delivery::new(
        registry.clone().recipient(),
        registry.clone().recipient(),
        publisher.clone(),
    );
    let db_health = Arc::new(DbHealth::default());
    // Every storage call but the trigger's inserts, which the `AlertWriter`
    // runs itself with a connection of its own (`DbPools::inserts`), so they
    // never queue behind the reads of a reconnect storm (thousands of
    // replays at once).
    let db = {
        let (pool, delivery, health) = (pools.reads.clone(), delivery.clone(), db_health.clone());
        SyncArbiter::start(settings.pool.max_size as usize, move || {
            DbActor::new(pool.clone(), delivery.clone(), health.clone())
        })
    };
    let auth_sign_outs = auth.sign_outs.clone();
    let auth = Authenticator::new(
        auth.jwt,
        db.clone().recipient(),
        auth.tokens,
        auth.sign_outs.clone(),
        settings
            .introspection
            .clone()
            .map(|i| Introspector::new(i, &settings.jwt_user_claim)),
        auth.service_keys,
    );
    // One subscriber per Redis shard, each with its own connection.
    let subscribers = redis.map_or_else(Vec::new, |r| {
        (0..r.shards.len())
            .map(|shard| {
                let s = RedisSubscriber::new(
                    r.clone(),
                    shard,
                    node.clone(),
                    registry.clone().recipient(),
                    registry.clone().recipient(),
                    registry.clone().recipient(),
                )
                .start();
                SubscriberHandle {
                    subscribe: s.clone().recipient(),
                    unsubscribe: s.recipient(),
                }
            })
            .collect()
    });
    let hubs = Arc::new(HubServices {
        registry: registry.clone().recipient(),
        outbound_limit: settings.limits.outbound_queue,
    });
    let start_hub: HubFactory = Box::new(move |user, sessions, generation| {
        Box::new(AlertHub::new(user, sessions, hubs.clone(), generation).start())
    });
    actix_web::rt::spawn(poll_sign_outs(auth_sign_outs, db.clone().recipient()));
    let caches = auth.clone();
    let registry = registry_ctx.run(Registry::new(
        settings.max_sessions_per_user,
        start_hub,
        subscribers,
        Box::new(move |event| caches.apply(event)),
        metrics.clone(),
        db.clone().recipient(),
    ));

    // Without a VAPID key nothing is scheduled, so nothing waits for a push.
    let schedule = vapid.as_ref().map(|_| settings.push.schedule);
    // The trigger's hot path on an arbiter of its own: it never waits for
    // the registry, the hubs or the heartbeat, which a reconnect storm
    // keeps busy on this one, and its transactions block only it.
    let writer = AlertWriter::new(
        (pools.inserts.clone(), db_health.clone()),
        delivery.clone(),
        metrics.clone(),
    )
    .with_push_schedule(schedule);
    let writer_thread = Arbiter::new().handle();
    writer_thread.spawn_fn(allocator::hand_back_on_this_thread);
    let writer = AlertWriter::start_in_arbiter(&writer_thread, move |_| writer);
    let mut own_threads = vec![writer_thread];
    let push_health = Arc::new(PushHealth::new(crate::models::time::now_ms()));
    if let Some(vapid) = vapid {
        let storage = PushStorage {
            claim: db.clone().recipient(),
            record: db.clone().recipient(),
        };
        let (node, push, limits) = (node.clone(), settings.push.clone(), settings.limits.clone());
        let (metrics, health) = (metrics.clone(), push_health.clone());
        // An arbiter of its own: sending never shares a thread with the
        // trigger's writer or the sessions.
        let push_thread = Arbiter::new().handle();
        push_thread.spawn_fn(allocator::hand_back_on_this_thread);
        PushActor::start_in_arbiter(&push_thread, move |_| {
            PushActor::new(node, storage, vapid, push, limits, metrics, health)
        });
        own_threads.push(push_thread);
    }
    stop_with_current(own_threads);
    if let (Some(redis), Some(publisher)) = (redis, publisher) {
        // Every shard's ingest stream, each read by every node.
        for shard in 0..redis.shards.len() {
            let ingest = IngestConsumer {
                ctx: redis.clone(),
                shard,
                publisher: publisher.clone(),
                consumer: node.clone(),
                writer: writer.clone().recipient(),
                metrics: metrics.clone(),
                claim_idle: settings.ingest_claim_idle,
            };
            actix_web::rt::spawn(ingest.run());
        }
    }

    let limits = &settings.limits;
    if let Some(keep) = settings.retention {
        let policy = Policy {
            keep,
            sweep_every: limits.retention_sweep_every.min(keep),
            window: limits.retention_window,
            pause: limits.retention_pause,
        };
        Retention::new(policy, db.clone().recipient(), metrics.clone()).start();
    }
    let recheck = settings.introspection.as_ref().map(|i| i.recheck);
    let heartbeat =
        Heartbeat::new(limits.heartbeat_interval, limits.client_timeout, recheck).start();
    let sessions = Arc::new(SessionServices {
        registry: RegistryHandle {
            admit: registry.clone().recipient(),
            depart: registry.clone().recipient(),
        },
        heartbeat: HeartbeatHandle {
            watch: heartbeat.clone().recipient(),
            unwatch: heartbeat.recipient(),
        },
        storage: SessionStorage {
            replay: db.clone().recipient(),
            unread: db.clone().recipient(),
            mark_read: db.clone().recipient(),
            mark_all_read: db.clone().recipient(),
        },
        connect_limiter: ConnectLimiter::new(
            settings.connect_limit,
            limits.connect_window,
            redis.cloned().map(|r| (r, node)),
        ),
        auth: auth.clone(),
        metrics,
        limits: limits.clone(),
    });
    Actors {
        db,
        push_health,
        db_health,
        registry,
        writer,
        sessions,
        auth,
        delivery,
    }
}

/// Reads the sign-outs other nodes stored since the last read, so a node
/// that missed their control event (Redis down) still learns of them.
async fn poll_sign_outs(sign_outs: Arc<SignOuts>, db: Recipient<SignOutsSince>) {
    let mut since = chrono::Utc::now();
    loop {
        tokio::time::sleep(POLL_EVERY).await;
        let started = chrono::Utc::now();
        let margin = chrono::Duration::from_std(POLL_MARGIN).unwrap_or_default();
        match db_result(db.send(SignOutsSince(since - margin)).await) {
            Ok(rows) => {
                sign_outs.merge(rows);
                since = started;
            }
            Err(e) => log::debug!("reading recent sign-outs failed: {e}"),
        }
    }
}

/// Stops `arbiters` when the runtime of the thread that started them goes
/// (a test's `System` ends; a server's main thread outlives them anyway),
/// so their threads, and the storage they hold, do not outlive the server.
fn stop_with_current(arbiters: Vec<ArbiterHandle>) {
    struct StopOnDrop(Vec<ArbiterHandle>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            for arbiter in &self.0 {
                arbiter.stop();
            }
        }
    }
    let guard = StopOnDrop(arbiters);
    actix_web::rt::spawn(async move {
        let _guard = guard;
        std::future::pending::<()>().await
    });
}
