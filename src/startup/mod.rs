//! Builds the running service from `Settings`: storage and secrets here,
//! the actors in `wiring`, the HTTP server in `server`.
//! Tests call `Application::build` with a port-0 address and talk to the
//! real server over TCP.

mod allocator;
mod server;
mod wiring;

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web::web;

use crate::actors::messages::CloseAll;
use crate::actors::registry::Registry;
use crate::auth::keys::public_key_from_pem;
use crate::auth::lookup::TokenLookup;
use crate::auth::{JwtVerifier, SignOuts};
use crate::config::Settings;
use crate::config::push::{VapidConfigError, resolve_vapid};
use crate::config::secrets::{Secrets, SecretsError};
use crate::http::{AppState, PushState, SessionThreads};
use crate::rate_limit::rest::RestLimiter;
use crate::redis::{RedisConfigError, RedisContext};
use crate::storage::{self, StorageError};
use crate::telemetry::metrics::Metrics;

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
    #[error(transparent)]
    Vapid(#[from] VapidConfigError),
}

pub struct Application {
    port: u16,
    service_port: Option<u16>,
    server: actix_server::Server,
    service_server: Option<actix_server::Server>,
    registry: Addr<Registry>,
}

/// Connections the kernel holds for a listener until it accepts them.
pub const LISTEN_BACKLOG: i32 = 4096;

/// Binds `addr` and builds an HTTP server on it with workers of its own.
fn listen(
    addr: &str,
    state: web::Data<AppState>,
    workers: Option<usize>,
) -> Result<(actix_server::Server, std::net::SocketAddr), StartupError> {
    let bind_error = |source| StartupError::Bind {
        addr: addr.to_owned(),
        source,
    };
    let listener = std::net::TcpListener::bind(addr).map_err(bind_error)?;
    // std listens with a backlog of 128, and actix-server's own backlog
    // only applies to sockets it binds itself. 128 pending connections is
    // 13 ms of a 10,000/s handshake burst: a longer pause in accepting
    // dropped SYNs, each retried by its client a second later. Listening
    // again on a listening socket sets its backlog (the kernel caps it at
    // net.core.somaxconn).
    socket2::SockRef::from(&listener)
        .listen(LISTEN_BACKLOG)
        .map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    let server = server::serve(listener, local, state, workers).map_err(bind_error)?;
    Ok((server, local))
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let redis = (!settings.redis_urls.is_empty())
            .then(|| RedisContext::new(&settings.redis_urls, &settings.redis_prefix))
            .transpose()?;
        let db_error = |source| StartupError::Database {
            url: settings.database.redacted(),
            source,
        };
        // This thread runs the registry and the hubs.
        allocator::hand_back_on_this_thread();
        let metrics = Arc::new(Metrics::for_node(redis.is_some()));
        let pools = storage::connect_pools(
            &settings.database,
            &settings.pool,
            Some(metrics.db_queries.clone()),
        )
        .map_err(db_error)?;
        let (secrets, token_key, vapid, sign_outs) = {
            let mut conn = pools.reads.get().map_err(|e| db_error(e.into()))?;
            let secrets = Secrets::resolve(&settings, &mut conn)?;
            let vapid = resolve_vapid(&settings, &mut conn)?;
            let sign_outs = SignOuts::default();
            sign_outs.merge(storage::sign_outs_since(&mut conn, None).map_err(db_error)?);
            (
                secrets,
                storage::token_key(&mut conn).map_err(db_error)?,
                vapid,
                sign_outs,
            )
        };
        match &vapid {
            None => log::warn!(
                "Web Push is off: set ALERTHUB_VAPID_PRIVATE_KEY and ALERTHUB_VAPID_SUBJECT to enable it"
            ),
            Some(_) if settings.push.vapid_private_key.is_none() => log::warn!(
                "ALERTHUB_VAPID_PRIVATE_KEY is not set: Web Push signs with a development key kept in the database"
            ),
            Some(_) => {}
        }
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

        let auth = wiring::AuthParts {
            jwt,
            tokens: Arc::new(TokenLookup::new(
                token_key,
                &settings.limits,
                metrics.clone(),
            )),
            service_keys: secrets.service_keys.clone(),
            sign_outs: Arc::new(sign_outs),
        };
        let actors = wiring::start(
            &settings,
            pools,
            metrics.clone(),
            redis.as_ref(),
            auth,
            vapid.clone(),
        );
        let push = PushState {
            vapid,
            allow_insecure: settings.push.allow_insecure,
            health: actors.push_health.clone(),
            silence_allowed: {
                let interval = settings.limits.push_poll_interval;
                (settings.push.schedule.delay.max(interval) + interval * 5)
                    .max(Duration::from_secs(10))
            },
        };
        let session_threads = SessionThreads::new(
            settings
                .workers
                .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
                .unwrap_or(2),
            settings.limits.starting_sessions,
        );
        session_threads.on_each_thread(allocator::hand_back_on_this_thread);
        let state = web::Data::new(AppState {
            auth: actors.auth,
            delivery: actors.delivery,
            writer: actors.writer,
            db: actors.db,
            db_health: actors.db_health,
            registry: actors.registry.clone(),
            metrics,
            sessions: actors.sessions,
            session_threads,
            rest_limit: RestLimiter::new(settings.rest_rate_limit),
            allowed_origins: settings.allowed_origins.clone(),
            access_log: settings.access_log,
            node_id: settings.node_id.clone(),
            redis,
            started: Instant::now(),
            push,
        });

        let (server, local) = listen(&settings.bind, state.clone(), settings.workers)?;
        // The services' listener has HTTP workers of its own.
        let service = match &settings.service_bind {
            Some(addr) => Some(listen(addr, state, settings.workers)?),
            None => None,
        };

        log::info!(
            "alerthub {} listening on http://{local} (node {}, database {})",
            env!("CARGO_PKG_VERSION"),
            settings.node_id,
            settings.database.redacted()
        );
        if let Some((_, addr)) = &service {
            log::info!("services and probes also on http://{addr}, with workers of their own");
        }
        if !secrets.generated.is_empty() {
            log_try_it(local);
        }
        Ok(Self {
            port: local.port(),
            service_port: service.as_ref().map(|(_, addr)| addr.port()),
            server,
            service_server: service.map(|(server, _)| server),
            registry: actors.registry,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of `ALERTHUB_SERVICE_BIND`, when set.
    pub fn service_port(&self) -> Option<u16> {
        self.service_port
    }

    /// The root actor, for tests that inject faults.
    pub fn registry(&self) -> Addr<Registry> {
        self.registry.clone()
    }

    /// Serves until SIGTERM or SIGINT, then closes every session with 1001
    /// and stops accepting connections.
    pub async fn run_until_stopped(self) -> io::Result<()> {
        let handle = self.server.handle();
        let service = self.service_server.as_ref().map(|s| s.handle());
        let registry = self.registry.clone();
        actix_web::rt::spawn(async move {
            shutdown_signal().await;
            let closed = registry.send(CloseAll).await.unwrap_or(0);
            log::info!("shutting down: closed {closed} session(s) with 1001");
            // Give the close frames a moment to reach the sockets.
            tokio::time::sleep(Duration::from_millis(200)).await;
            if let Some(service) = service {
                service.stop(true).await;
            }
            handle.stop(true).await;
        });
        match self.service_server {
            Some(service) => {
                let (public, service) = futures_util::future::join(self.server, service).await;
                public.and(service)
            }
            None => self.server.await,
        }
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
