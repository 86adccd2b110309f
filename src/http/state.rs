//! `AppState`: what every handler may use, built once by `startup` and
//! shared by every worker.

use std::sync::Arc;
use std::time::Instant;

use actix::Addr;

use crate::actors::db::DbActor;
use crate::actors::registry::Registry;
use crate::actors::session::SessionServices;
use crate::actors::writer::AlertWriter;
use crate::auth::Authenticator;
use crate::rate_limit::rest::RestLimiter;
use crate::redis::RedisContext;
use crate::storage::DbHealth;
use crate::telemetry::metrics::Metrics;

pub struct AppState {
    pub auth: Authenticator,
    pub writer: Addr<AlertWriter>,
    pub db: Addr<DbActor>,
    /// What the storage calls last said about the database (`/metrics`).
    pub db_health: Arc<DbHealth>,
    pub registry: Addr<Registry>,
    pub metrics: Arc<Metrics>,
    pub sessions: Arc<SessionServices>,
    /// The per-user limit of the endpoints that take a user token.
    pub rest_limit: RestLimiter,
    pub allowed_origins: Option<Vec<String>>,
    pub node_id: String,
    pub redis: Option<RedisContext>,
    pub started: Instant,
}

impl AppState {
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.allowed_origins
            .as_ref()
            .is_none_or(|list| list.iter().any(|o| o == origin))
    }
}
