//! An alert as a client sees it: the contract's `breach_alert.message`, and
//! the `alert` object of the REST API.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::domain::Severity;
use super::row::AlertRow;
use super::time::format_timestamp;

/// `breach_alert.message` on the wire, and the `alert` object of the REST API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Alert)]
pub struct AlertView {
    /// The stored alert's id; one user's ids increase in creation order.
    #[schema(minimum = 1)]
    pub alert_id: i64,
    pub breach_id: String,
    pub title: String,
    #[schema(value_type = Severity)]
    pub severity: String,
    #[schema(minimum = 0, maximum = 1)]
    pub confidence: f64,
    /// RFC 3339, UTC, with a `Z`.
    #[schema(format = DateTime)]
    pub detected_at: String,
    #[schema(required)]
    pub description: Option<String>,
    #[schema(required)]
    pub source: Option<String>,
    pub read: bool,
    /// When alerthub stored it: RFC 3339, UTC, with a `Z`.
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&AlertRow> for AlertView {
    fn from(row: &AlertRow) -> Self {
        Self {
            alert_id: row.id,
            breach_id: row.breach_id.clone(),
            title: row.title.clone(),
            severity: row.severity.clone(),
            confidence: row.confidence,
            detected_at: format_timestamp(row.detected_at.and_utc()),
            description: row.description.clone(),
            source: row.source.clone(),
            read: row.read,
            created_at: format_timestamp(row.created_at.and_utc()),
        }
    }
}
