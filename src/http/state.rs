//! `AppState`: what every handler may use, built once by `startup` and
//! shared by every worker.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Addr;

use super::session_threads::SessionThreads;
use crate::actors::db::DbActor;
use crate::actors::messages::push::PushHealth;
use crate::actors::registry::Registry;
use crate::actors::session::SessionServices;
use crate::actors::writer::AlertWriter;
use crate::auth::Authenticator;
use crate::delivery::Delivery;
use crate::push::VapidKey;
use crate::rate_limit::rest::RestLimiter;
use crate::redis::RedisContext;
use crate::storage::DbHealth;
use crate::telemetry::metrics::Metrics;

pub struct AppState {
    pub auth: Authenticator,
    /// Where a handler announces that a credential ended (contract §5).
    pub delivery: Delivery,
    pub writer: Addr<AlertWriter>,
    pub db: Addr<DbActor>,
    /// What the storage calls last said about the database (`/metrics`).
    pub db_health: Arc<DbHealth>,
    pub registry: Addr<Registry>,
    pub metrics: Arc<Metrics>,
    pub sessions: Arc<SessionServices>,
    /// Where an upgraded WebSocket's session runs (not on the HTTP worker).
    pub session_threads: SessionThreads,
    /// The per-user limit of the endpoints that take a user token.
    pub rest_limit: RestLimiter,
    pub allowed_origins: Option<Vec<String>>,
    /// `ALERTHUB_ACCESS_LOG`: one line per request (`access_log`).
    pub access_log: bool,
    pub node_id: String,
    pub redis: Option<RedisContext>,
    pub started: Instant,
    pub push: PushState,
}

/// What the HTTP layer knows of Web Push.
pub struct PushState {
    /// `None`: Web Push is off (no VAPID key on a production server).
    pub vapid: Option<VapidKey>,
    pub allow_insecure: bool,
    pub health: Arc<PushHealth>,
    /// How long the push actor may go without polling storage before
    /// `checks.push` says "down": its longest sleep (the push delay, or the
    /// poll interval if longer) and five intervals more, at least 10 s.
    pub silence_allowed: Duration,
}

impl AppState {
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.allowed_origins
            .as_ref()
            .is_none_or(|list| list.iter().any(|o| o == origin))
    }
}
