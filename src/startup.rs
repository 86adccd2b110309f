//! Builds the running service from `Settings`: storage, actors, HTTP server.
//! Tests call `Application::build` with a port-0 address and talk to the
//! real server over TCP.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_http::HttpService;
use actix_service::{IntoServiceFactory, ServiceFactoryExt, map_config};
use actix_web::dev::AppConfig;
use actix_web::{App, web};

use crate::actors::db::DbActor;
use crate::actors::heartbeat::Heartbeat;
use crate::actors::redis_subscriber::RedisSubscriber;
use crate::actors::registry::{AttachSubscriber, CloseAll, Registry};
use crate::actors::session::SessionServices;
use crate::actors::writer::AlertWriter;
use crate::auth::{Authenticator, JwtVerifier};
use crate::config::Settings;
use crate::connect_limit::ConnectLimiter;
use crate::delivery::Delivery;
use crate::http::{self, AppState};
use crate::jwt_keys::public_key_from_pem;
use crate::metrics::Metrics;
use crate::redis::ingest::IngestConsumer;
use crate::redis::publisher::Publisher;
use crate::redis::{RedisConfigError, RedisContext};
use crate::rest_limit::RestLimiter;
use crate::secrets::{Secrets, SecretsError};
use crate::storage::{self, StorageError};
use crate::token_lookup::TokenLookup;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database {url}: {source}")]
    Database { url: String, source: StorageError },
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error("ALERTHUB_JWT_PUBLIC_KEY: {0}")]
    PublicKey(String),
    #[error("ALERTHUB_JWT_SECRET: {0}")]
    JwtSecret(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: io::Error },
    #[error(transparent)]
    Redis(#[from] RedisConfigError),
}

pub struct Application {
    port: u16,
    server: actix_server::Server,
    registry: Addr<Registry>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let redis = settings
            .redis_url
            .as_deref()
            .map(|url| RedisContext::new(url, &settings.redis_prefix))
            .transpose()?;
        let db_error = |source| StartupError::Database {
            url: settings.database.redacted(),
            source,
        };
        let metrics = Arc::new(Metrics::new());
        let pool = storage::connect_counted(
            &settings.database,
            &settings.pool,
            metrics.db_queries.clone(),
        )
        .map_err(db_error)?;
        let (secrets, token_key) = {
            let mut conn = pool.get().map_err(|e| db_error(e.into()))?;
            let secrets = Secrets::resolve(&settings, &mut conn)?;
            (secrets, storage::token_key(&mut conn).map_err(db_error)?)
        };
        for name in &secrets.generated {
            log::warn!(
                "{name} is not set: using a development value generated and kept in the database"
            );
        }
        for why in &secrets.weak {
            log::warn!("{why}: allowed on a development server only");
        }
        let public_key = settings
            .jwt_public_key
            .as_ref()
            .map(|p| {
                let file = std::fs::read(p)
                    .map_err(|e| StartupError::PublicKey(format!("{}: {e}", p.display())))?;
                public_key_from_pem(&file)
                    .map_err(|e| StartupError::PublicKey(format!("{} {e}", p.display())))
            })
            .transpose()?;
        let jwt = JwtVerifier::new(
            secrets.jwt_secret.as_deref(),
            public_key,
            &settings.jwt_user_claim,
        )
        .map_err(|e| StartupError::JwtSecret(e.to_string()))?;

        let db = {
            let pool = pool.clone();
            SyncArbiter::start(settings.pool.max_size as usize, move || {
                DbActor::new(pool.clone())
            })
        };
        let registry = {
            let (db, metrics) = (db.clone(), metrics.clone());
            let (max_sessions, outbound) = (
                settings.max_sessions_per_user,
                settings.limits.outbound_queue,
            );
            Registry::create(move |ctx| Registry::new(max_sessions, db, outbound, metrics, ctx))
        };
        let publisher = redis
            .as_ref()
            .map(|r| Publisher::start(r.clone(), settings.node_id.clone()));
        let delivery = Delivery::new(registry.clone(), publisher.clone());
        let writer = AlertWriter::new(db.clone(), delivery.clone(), metrics.clone()).start();
        if let (Some(redis), Some(publisher)) = (&redis, &publisher) {
            let subscriber =
                RedisSubscriber::new(redis.clone(), settings.node_id.clone(), registry.clone())
                    .start();
            registry.do_send(AttachSubscriber(subscriber));
            let ingest = IngestConsumer {
                ctx: redis.clone(),
                publisher: publisher.clone(),
                consumer: settings.node_id.clone(),
                writer: writer.clone(),
                metrics: metrics.clone(),
                claim_idle: settings.ingest_claim_idle,
            };
            actix_web::rt::spawn(ingest.run());
        }
        let connect_limiter = ConnectLimiter::new(
            settings.connect_limit,
            settings.limits.connect_window,
            redis.clone().map(|r| (r, settings.node_id.clone())),
        );
        let heartbeat = Heartbeat::new(
            settings.limits.heartbeat_interval,
            settings.limits.client_timeout,
        )
        .start();
        let sessions = Arc::new(SessionServices {
            heartbeat,
            connect_limiter,
            registry: registry.clone(),
            db: db.clone(),
            delivery: delivery.clone(),
            metrics: metrics.clone(),
            limits: settings.limits.clone(),
        });
        let state = web::Data::new(AppState {
            auth: Authenticator::new(
                jwt,
                db.clone(),
                Arc::new(TokenLookup::new(
                    token_key,
                    &settings.limits,
                    metrics.clone(),
                )),
                secrets.service_keys.clone(),
            ),
            writer,
            db,
            registry: registry.clone(),
            delivery,
            metrics,
            sessions,
            rest_limit: RestLimiter::new(settings.rest_rate_limit),
            allowed_origins: settings.allowed_origins.clone(),
            node_id: settings.node_id.clone(),
            redis,
            started: Instant::now(),
        });

        let listener =
            std::net::TcpListener::bind(&settings.bind).map_err(|source| StartupError::Bind {
                addr: settings.bind.clone(),
                source,
            })?;
        let local = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: settings.bind.clone(),
            source,
        })?;
        let origins = settings.allowed_origins.clone();
        let bind_error = |source| StartupError::Bind {
            addr: settings.bind.clone(),
            source,
        };
        // actix-web's `HttpServer` offers no upgrade hook, so the server is
        // assembled as it does it, plus `upgrade`: WebSocket handshakes
        // leave the HTTP/1 dispatcher with their connection (`http::ws`).
        let mut server = actix_server::Server::build()
            .disable_signals()
            .backlog(4096)
            .shutdown_timeout(5);
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        let server = server
            .listen("alerthub", listener, move || {
                let app = App::new()
                    .app_data(state.clone())
                    .configure(|cfg| http::routes(cfg, &origins))
                    .into_factory()
                    .map_err(|e| e.error_response());
                HttpService::build()
                    .keep_alive(Duration::from_secs(5))
                    .client_request_timeout(Duration::from_secs(5))
                    .client_disconnect_timeout(Duration::from_secs(1))
                    .tcp_nodelay(true)
                    .local_addr(local)
                    .upgrade(http::ws::upgrade_service(state.clone()))
                    .finish(map_config(app, |_| AppConfig::default()))
                    .tcp()
            })
            .map_err(bind_error)?
            .run();

        log::info!(
            "alerthub {} listening on http://{local} (node {}, database {})",
            env!("CARGO_PKG_VERSION"),
            settings.node_id,
            settings.database.redacted()
        );
        if !secrets.generated.is_empty() {
            log_try_it(local);
        }
        Ok(Self {
            port: local.port(),
            server,
            registry,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The root actor, for tests that inject faults.
    pub fn registry(&self) -> Addr<Registry> {
        self.registry.clone()
    }

    /// Serves until SIGTERM or SIGINT, then closes every session with 1001
    /// and stops accepting connections.
    pub async fn run_until_stopped(self) -> io::Result<()> {
        let handle = self.server.handle();
        let registry = self.registry.clone();
        actix_web::rt::spawn(async move {
            shutdown_signal().await;
            let closed = registry.send(CloseAll).await.unwrap_or(0);
            log::info!("shutting down: closed {closed} session(s) with 1001");
            // Give the close frames a moment to reach the sockets.
            tokio::time::sleep(Duration::from_millis(200)).await;
            handle.stop(true).await;
        });
        self.server.await
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// A newcomer with no configuration is told how to try the server. The CLI
/// reads the same environment, so it finds the generated secrets.
fn log_try_it(addr: std::net::SocketAddr) {
    log::info!(
        "development mode (secrets generated and kept in the database). Try it:\n  \
         1. mint a token:       TOKEN=$(cargo run --release -q -- token jwt 1)\n  \
         2. open the dashboard: http://{addr}/?user=1&token=$TOKEN\n     \
            or, in the console of a page it serves (e.g. http://{addr}/health): new WebSocket('ws://{addr}/ws/breach-alerts/1/?token=<TOKEN>').onmessage = e => console.log(e.data)\n  \
         3. send a test alert:  cargo run --release -q -- send-test-alert 1"
    );
}
