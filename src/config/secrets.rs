//! The JWT secret and service keys: configured, or — on a development
//! server only — generated once and kept in the database so that tokens and
//! keys survive restarts and the CLI can read them.
//!
//! Configured values must also be long enough to resist guessing: an HS256
//! secret of at least 32 bytes (RFC 7518 §3.2 asks for the hash size; a
//! Django `SECRET_KEY` has 50 characters) and service keys of at least 16
//! bytes. Outside development mode a shorter one stops the server; in
//! development mode it is allowed with a warning.

use rand::RngCore;

use crate::config::Settings;
use crate::storage::{self, AnyConnection, StorageError};

const DEV_JWT_SECRET: &str = "dev_jwt_secret";
const DEV_SERVICE_KEY: &str = "dev_service_key";

pub struct Secrets {
    /// `None` when only a public key is configured (no HS256).
    pub jwt_secret: Option<String>,
    pub service_keys: Vec<String>,
    /// Which values were generated, for the start-up warning.
    pub generated: Vec<&'static str>,
    /// Configured values shorter than they should be, allowed because this
    /// is a development server: one sentence each, for a start-up warning.
    pub weak: Vec<String>,
}

/// Shortest HS256 secret accepted outside development mode, in bytes.
pub const MIN_JWT_SECRET_BYTES: usize = 32;
/// Shortest service key accepted outside development mode, in bytes.
pub const MIN_SERVICE_KEY_BYTES: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(
        "{0} is not set. A server bound to {1} (not loopback) needs real secrets: set {0}, \
         or set ALERTHUB_DEV=1 to let a development server generate one"
    )]
    Missing(&'static str, String),
    #[error(
        "{0} {1}. A server bound to {2} (not loopback) needs secrets that resist guessing; \
         set ALERTHUB_DEV=1 to allow short ones on a development server"
    )]
    TooShort(&'static str, String, String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

fn random_secret() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

impl Secrets {
    /// The service key a development server generated, if this database
    /// holds one; nothing is generated.
    pub fn stored_service_key(conn: &mut AnyConnection) -> Result<Option<String>, StorageError> {
        storage::setting(conn, DEV_SERVICE_KEY)
    }

    pub fn resolve(settings: &Settings, conn: &mut AnyConnection) -> Result<Self, SecretsError> {
        let mut generated = Vec::new();
        let mut dev_value = |name: &'static str, key: &str| -> Result<String, SecretsError> {
            if !settings.dev_secrets_allowed {
                return Err(SecretsError::Missing(
                    name,
                    settings.exposed_listener().to_owned(),
                ));
            }
            generated.push(name);
            Ok(storage::setting_or_insert(conn, key, random_secret)?)
        };
        let jwt_secret = match (&settings.jwt_secret, &settings.jwt_public_key) {
            (Some(secret), _) => Some(secret.clone()),
            (None, Some(_)) => None,
            (None, None) => Some(dev_value("ALERTHUB_JWT_SECRET", DEV_JWT_SECRET)?),
        };
        let service_keys = if settings.service_keys.is_empty() {
            vec![dev_value("ALERTHUB_SERVICE_KEYS", DEV_SERVICE_KEY)?]
        } else {
            settings.service_keys.clone()
        };
        // Checked only once nothing is missing, so that a server with no
        // configuration at all hears about the missing values first.
        let mut weak: Vec<(&'static str, String)> = Vec::new();
        if let Some(secret) = settings.jwt_secret.as_deref()
            && let Some(why) = too_short(secret, MIN_JWT_SECRET_BYTES)
        {
            weak.push(("ALERTHUB_JWT_SECRET", why));
        }
        let keys = &settings.service_keys;
        for (i, key) in keys.iter().enumerate() {
            if let Some(why) = too_short(key, MIN_SERVICE_KEY_BYTES) {
                let why = if keys.len() > 1 {
                    format!("(key {} of {}) {why}", i + 1, keys.len())
                } else {
                    why
                };
                weak.push(("ALERTHUB_SERVICE_KEYS", why));
            }
        }
        if let Some((name, why)) = weak.first()
            && !settings.dev_secrets_allowed
        {
            return Err(SecretsError::TooShort(
                name,
                why.clone(),
                settings.exposed_listener().to_owned(),
            ));
        }
        Ok(Self {
            jwt_secret,
            service_keys,
            generated,
            weak: weak
                .into_iter()
                .map(|(name, why)| format!("{name} {why}"))
                .collect(),
        })
    }
}

/// Why a secret is too short (its length only, never its value).
fn too_short(value: &str, min: usize) -> Option<String> {
    (value.len() < min).then(|| format!("is {} bytes long; at least {min} are needed", value.len()))
}
