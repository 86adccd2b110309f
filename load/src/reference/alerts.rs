//! The trigger's input and the alert's wire view: a typed body (unknown
//! fields refused), the contract's validation with per-field details, and
//! the JSON of `breach_alert.message`, serialised once per alert.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::auth::valid_user_id;

/// One trigger, as `POST /api/v1/alerts` takes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertIn {
    pub user_id: String,
    pub breach_id: String,
    pub title: String,
    pub severity: String,
    pub confidence: f64,
    #[serde(default)]
    pub detected_at: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
}

/// `POST /api/v1/alerts/batch`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchIn {
    pub alerts: Vec<AlertIn>,
}

/// What `breach_alert.message` holds.
#[derive(Debug, Serialize)]
pub struct AlertView<'a> {
    pub alert_id: i64,
    pub breach_id: &'a str,
    pub title: &'a str,
    pub severity: &'a str,
    pub confidence: f64,
    pub detected_at: &'a str,
    pub description: Option<&'a str>,
    pub read: bool,
}

const SEVERITIES: [&str; 4] = ["LOW", "MEDIUM", "HIGH", "CRITICAL"];

/// Field → problem, for the 422's `details`.
pub type Problems = BTreeMap<&'static str, &'static str>;

impl AlertIn {
    /// The contract's limits; on success the severity is upper-cased.
    pub fn validate(&mut self) -> Result<(), Problems> {
        let mut p = Problems::new();
        if !valid_user_id(&self.user_id) {
            p.insert("user_id", "must match ^\\w{1,64}$");
        }
        let chars = |s: &str| s.chars().count();
        if !(1..=128).contains(&chars(&self.breach_id)) {
            p.insert("breach_id", "1 to 128 characters");
        }
        if !(1..=200).contains(&chars(&self.title)) {
            p.insert("title", "1 to 200 characters");
        }
        if self.description.as_deref().is_some_and(|d| chars(d) > 4000) {
            p.insert("description", "at most 4,000 characters");
        }
        if self.source.as_deref().is_some_and(|s| chars(s) > 64) {
            p.insert("source", "at most 64 characters");
        }
        if !(0.0..=1.0).contains(&self.confidence) {
            p.insert("confidence", "a number in [0, 1]");
        }
        let severity = self.severity.to_ascii_uppercase();
        if SEVERITIES.contains(&severity.as_str()) {
            self.severity = severity;
        } else {
            p.insert("severity", "one of LOW, MEDIUM, HIGH, CRITICAL");
        }
        if p.is_empty() { Ok(()) } else { Err(p) }
    }

    /// `breach_alert.message` for this alert with id `alert_id`.
    pub fn message(&self, alert_id: i64, now: &str) -> String {
        let view = AlertView {
            alert_id,
            breach_id: &self.breach_id,
            title: &self.title,
            severity: &self.severity,
            confidence: self.confidence,
            detected_at: self.detected_at.as_deref().unwrap_or(now),
            description: self.description.as_deref(),
            read: false,
        };
        serde_json::to_string(&view).unwrap_or_else(|_| "{}".into())
    }
}

/// A `breach_alert` frame around a stored message; replayed ones carry
/// `"replayed":true` inside the message.
pub fn alert_frame(message: &str, replayed: bool, now: &str) -> String {
    let message = match (replayed, message.strip_suffix('}')) {
        (true, Some(open)) => format!("{open},\"replayed\":true}}"),
        _ => message.to_owned(),
    };
    format!(r#"{{"type":"breach_alert","message":{message},"timestamp":"{now}"}}"#)
}

/// Now, as the contract writes timestamps (RFC 3339, UTC, `Z`).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn parse(s: &str) -> Result<AlertIn, serde_json::Error> {
        serde_json::from_str(s)
    }

    #[test]
    fn valid_alerts_pass_and_severity_is_upper_cased() {
        let mut a = parse(
            r#"{"user_id":"u1","breach_id":"B1","title":"t","severity":"high","confidence":0.9}"#,
        )
        .unwrap();
        assert_eq!(a.validate(), Ok(()));
        assert_eq!(a.severity, "HIGH");
        let m: Value = serde_json::from_str(&a.message(7, "2025-01-01T00:00:00Z")).unwrap();
        assert_eq!(m["alert_id"], 7);
        assert_eq!(m["severity"], "HIGH");
        assert_eq!(m["description"], Value::Null);
        assert_eq!(m["detected_at"], "2025-01-01T00:00:00Z");
        assert_eq!(m["read"], false);
    }

    #[test]
    fn invalid_alerts_name_each_bad_field() {
        let mut a = parse(
            r#"{"user_id":"u-1","breach_id":"","title":"t","severity":"huge","confidence":1.5,"source":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#,
        )
        .unwrap();
        let p = a.validate().unwrap_err();
        assert_eq!(
            p.keys().copied().collect::<Vec<_>>(),
            ["breach_id", "confidence", "severity", "source", "user_id"]
        );
        assert!(
            parse(r#"{"user_id":"u","breach_id":"b","title":"t","severity":"LOW","confidence":0,"extra":1}"#)
                .is_err()
        );
        assert!(parse(r#"{"user_id":"u"}"#).is_err());
    }

    #[test]
    fn frames_wrap_messages_and_mark_replays() {
        let live = alert_frame(r#"{"alert_id":1}"#, false, "T");
        let v: Value = serde_json::from_str(&live).unwrap();
        assert_eq!(v["type"], "breach_alert");
        assert_eq!(v["message"]["alert_id"], 1);
        assert_eq!(v["message"].get("replayed"), None);
        let replayed: Value =
            serde_json::from_str(&alert_frame(r#"{"alert_id":1}"#, true, "T")).unwrap();
        assert_eq!(replayed["message"]["replayed"], true);
        assert!(now_rfc3339().ends_with('Z'));
    }
}
