//! An alert as a client sees it: the contract's `breach_alert.message`, and
//! the `alert` object of the REST API.

use serde::{Deserialize, Serialize};

use super::row::AlertRow;
use super::time::format_timestamp;

/// `breach_alert.message` on the wire, and the `alert` object of the REST API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
    pub alert_id: i64,
    pub breach_id: String,
    pub title: String,
    pub severity: String,
    pub confidence: f64,
    pub detected_at: String,
    pub description: Option<String>,
    pub source: Option<String>,
    pub read: bool,
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
