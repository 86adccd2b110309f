//! The Web Push settings of contract §6, parsed from the options: the
//! delay and minimum severity that make an alert due, the payload mode,
//! the TTL, and where the VAPID key comes from (`config::push` resolves it).

use std::path::PathBuf;
use std::time::Duration;

use super::options::Options;
use crate::models::Severity;
use crate::models::push::{PushPayload, PushSchedule};

/// A Web Push setting with a value it cannot take: the variable, and why.
#[derive(Debug, thiserror::Error)]
#[error("{0} {1}")]
pub struct PushSettingsError(pub &'static str, pub String);

#[derive(Debug, Clone)]
pub struct PushSettings {
    pub schedule: PushSchedule,
    pub payload: PushPayload,
    pub ttl: Duration,
    pub allow_insecure: bool,
    pub vapid_private_key: Option<PathBuf>,
    pub vapid_subject: Option<String>,
}

impl PushSettings {
    pub fn from_options(o: &Options) -> Result<Self, PushSettingsError> {
        let invalid = |name, why: &str| PushSettingsError(name, why.to_owned());
        let min_severity = Severity::parse(&o.push_min_severity)
            .map_err(|e| invalid("ALERTHUB_PUSH_MIN_SEVERITY", &e.to_string()))?;
        let payload = match o.push_payload.to_ascii_lowercase().as_str() {
            "full" => PushPayload::Full,
            "minimal" => PushPayload::Minimal,
            _ => return Err(invalid("ALERTHUB_PUSH_PAYLOAD", "must be full or minimal")),
        };
        if o.push_ttl == 0 {
            return Err(invalid(
                "ALERTHUB_PUSH_TTL",
                "is 0; it must be at least 1 (0 would let push services drop every message at once)",
            ));
        }
        let ttl = o.push_ttl;
        let vapid_subject = o.vapid_subject.clone().filter(|s| !s.is_empty());
        if let Some(subject) = &vapid_subject
            && !(subject.starts_with("mailto:") || subject.starts_with("https:"))
        {
            return Err(invalid(
                "ALERTHUB_VAPID_SUBJECT",
                "must start with mailto: or https:",
            ));
        }
        Ok(Self {
            schedule: PushSchedule {
                delay: Duration::from_secs(o.push_delay),
                min_severity,
            },
            payload,
            ttl: Duration::from_secs(ttl),
            allow_insecure: o.push_allow_insecure,
            vapid_private_key: o.vapid_private_key.clone(),
            vapid_subject,
        })
    }
}
