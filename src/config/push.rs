//! Web Push settings (contract §6), and the VAPID key: read from
//! `ALERTHUB_VAPID_PRIVATE_KEY`, or — on a development server only —
//! generated once and kept in the database like the other development
//! secrets, so every node and every restart signs with the same key (a
//! browser's subscription is bound to it). A production server without a
//! key runs without Web Push and says so at start.

use crate::config::Settings;
use crate::push::VapidKey;
use crate::storage::{self, AnyConnection, StorageError};

const DEV_VAPID_KEY: &str = "dev_vapid_private_key";
/// The subject of a development server that has none configured.
const DEV_SUBJECT: &str = "mailto:alerthub-dev@localhost";

#[derive(Debug, thiserror::Error)]
pub enum VapidConfigError {
    #[error("ALERTHUB_VAPID_PRIVATE_KEY {0}: {1}")]
    File(String, String),
    #[error("ALERTHUB_VAPID_SUBJECT is not set; it is required with ALERTHUB_VAPID_PRIVATE_KEY")]
    NoSubject,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The VAPID key this server signs with; `None`: Web Push is off (no key
/// configured on a server that may not generate one).
pub fn resolve_vapid(
    settings: &Settings,
    conn: &mut AnyConnection,
) -> Result<Option<VapidKey>, VapidConfigError> {
    let push = &settings.push;
    if let Some(path) = &push.vapid_private_key {
        let shown = path.display().to_string();
        let pem = std::fs::read_to_string(path)
            .map_err(|e| VapidConfigError::File(shown.clone(), e.to_string()))?;
        let subject = push
            .vapid_subject
            .as_deref()
            .ok_or(VapidConfigError::NoSubject)?;
        return VapidKey::from_pem(&pem, subject)
            .map(Some)
            .map_err(|e| VapidConfigError::File(shown, e.to_string()));
    }
    if !settings.dev_secrets_allowed {
        return Ok(None);
    }
    let pem = storage::setting_or_insert(conn, DEV_VAPID_KEY, VapidKey::generate_pem)?;
    let subject = push.vapid_subject.as_deref().unwrap_or(DEV_SUBJECT);
    VapidKey::from_pem(&pem, subject)
        .map(Some)
        .map_err(|_| StorageError::BadSetting(DEV_VAPID_KEY, "not a P-256 private key").into())
}
