//! Starts the actors and hands each the `Recipient`s it needs, in an order
//! that needs no address attached after start: the registry's address
//! exists (through its `Context`) before the registry runs, so the Redis
//! subscriber, `Delivery` and the hubs can be given it.

use std::sync::Arc;

use actix::prelude::*;

use crate::actors::db::DbActor;
use crate::actors::heartbeat::Heartbeat;
use crate::actors::hub::{AlertHub, HubServices};
use crate::actors::messages::{
    HeartbeatHandle, HubFactory, HubHandle, HubStorage, RegistryHandle, SessionStorage,
    SubscriberHandle,
};
use crate::actors::redis_subscriber::RedisSubscriber;
use crate::actors::registry::Registry;
use crate::actors::retention::{Policy, Retention};
use crate::actors::session::SessionServices;
use crate::actors::writer::AlertWriter;
use crate::config::Settings;
use crate::delivery::Delivery;
use crate::rate_limit::connect::ConnectLimiter;
use crate::redis::RedisContext;
use crate::redis::ingest::IngestConsumer;
use crate::redis::publisher::Publisher;
use crate::storage::{DbHealth, DbPool};
use crate::telemetry::metrics::Metrics;

/// The running actors that the HTTP layer talks to.
pub struct Actors {
    pub db: Addr<DbActor>,
    /// What the storage calls last said about the database.
    pub db_health: Arc<DbHealth>,
    pub registry: Addr<Registry>,
    pub writer: Addr<AlertWriter>,
    pub sessions: Arc<SessionServices>,
}

pub fn start(
    settings: &Settings,
    pool: DbPool,
    metrics: Arc<Metrics>,
    redis: Option<&RedisContext>,
) -> Actors {
    let node = settings.node_id.clone();
    let registry_ctx = Context::<Registry>::new();
    let registry = registry_ctx.address();

    let publisher = redis.map(|r| Publisher::start(r.clone(), node.clone()));
    let delivery = Delivery::new(registry.clone().recipient(), publisher.clone());
    let db_health = Arc::new(DbHealth::default());
    let db = {
        let (delivery, health) = (delivery.clone(), db_health.clone());
        SyncArbiter::start(settings.pool.max_size as usize, move || {
            DbActor::new(pool.clone(), delivery.clone(), health.clone())
        })
    };
    let subscriber = redis.map(|r| {
        let s = RedisSubscriber::new(
            r.clone(),
            node.clone(),
            registry.clone().recipient(),
            registry.clone().recipient(),
        )
        .start();
        SubscriberHandle {
            subscribe: s.clone().recipient(),
            unsubscribe: s.recipient(),
        }
    });
    let hubs = HubServices {
        registry: registry.clone().recipient(),
        db: HubStorage {
            since: db.clone().recipient(),
            unread: db.clone().recipient(),
        },
        subscriber,
        outbound_limit: settings.limits.outbound_queue,
    };
    let start_hub: HubFactory = Box::new(move |user, sessions, generation| {
        let hub = AlertHub::new(user, sessions, hubs.clone(), generation).start();
        HubHandle {
            join: hub.clone().recipient(),
            leave: hub.clone().recipient(),
            fanout: hub.clone().recipient(),
            retire: hub.clone().recipient(),
            #[cfg(feature = "fault-injection")]
            crash: hub.clone().recipient(),
            catch_up: hub.recipient(),
        }
    });
    let registry = registry_ctx.run(Registry::new(
        settings.max_sessions_per_user,
        start_hub,
        metrics.clone(),
    ));

    let writer = AlertWriter::new(db.clone().recipient(), delivery, metrics.clone()).start();
    if let (Some(redis), Some(publisher)) = (redis, publisher) {
        let ingest = IngestConsumer {
            ctx: redis.clone(),
            publisher,
            consumer: node.clone(),
            writer: writer.clone().recipient(),
            metrics: metrics.clone(),
            claim_idle: settings.ingest_claim_idle,
        };
        actix_web::rt::spawn(ingest.run());
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
    let heartbeat = Heartbeat::new(limits.heartbeat_interval, limits.client_timeout).start();
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
        metrics,
        limits: limits.clone(),
    });
    Actors {
        db,
        db_health,
        registry,
        writer,
        sessions,
    }
}
