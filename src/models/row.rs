//! An alert as stored: the row both backends return (`AlertRow`) and the
//! insertable form of a parsed trigger (`NewAlertRow`).

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::prelude::*;

use super::domain::{Description, Source};
use super::new_alert::NewAlert;
use super::push::PushSchedule;
use super::schema::alerts;

/// A stored alert, as both backends return it.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = alerts)]
pub struct AlertRow {
    pub id: i64,
    pub user_id: String,
    pub breach_id: String,
    pub title: String,
    pub severity: String,
    pub confidence: f64,
    pub detected_at: NaiveDateTime,
    pub description: Option<String>,
    pub source: Option<String>,
    pub read: bool,
    pub created_at: NaiveDateTime,
}

/// Columns a `NewAlertRow` binds, one SQL variable each per row: what
/// bounds how many rows one multi-row INSERT may carry (`storage::alerts`).
/// A unit test there counts the variables diesel really binds.
pub const NEW_ALERT_COLUMNS: usize = 11;

/// The insertable form of a `NewAlert`. `None` is stored as NULL rather
/// than as the column's DEFAULT: every column is given, which lets SQLite
/// store a whole group in multi-row INSERTs. A new field here is one more
/// variable per row: update `NEW_ALERT_COLUMNS`.
#[derive(Debug, Insertable)]
#[diesel(table_name = alerts, treat_none_as_default_value = false)]
pub struct NewAlertRow {
    pub user_id: String,
    pub breach_id: String,
    pub title: String,
    pub severity: String,
    pub confidence: f64,
    pub detected_at: NaiveDateTime,
    pub description: Option<String>,
    pub source: Option<String>,
    pub read: bool,
    pub created_at: NaiveDateTime,
    /// When a Web Push is due (contract §6); `None`: never pushed.
    pub push_due_at: Option<NaiveDateTime>,
}

impl NewAlertRow {
    /// The row of a parsed trigger stored at `created_at`; with a push
    /// schedule, its due time is set in the same INSERT.
    pub fn from_new(
        alert: NewAlert,
        created_at: DateTime<Utc>,
        push: Option<&PushSchedule>,
    ) -> Self {
        let created_at = created_at.trunc_subsecs(6);
        let push_due_at = push.and_then(|p| p.due_at(alert.severity, created_at));
        Self {
            user_id: alert.user_id.as_str().to_owned(),
            breach_id: alert.breach_id.into_inner(),
            title: alert.title.into_inner(),
            severity: alert.severity.as_str().to_owned(),
            confidence: alert.confidence.value(),
            detected_at: alert.detected_at.naive_utc(),
            description: alert.description.map(Description::into_inner),
            source: alert.source.map(Source::into_inner),
            read: false,
            created_at: created_at.naive_utc(),
            push_due_at,
        }
    }
}
