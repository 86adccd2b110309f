//! The JWT secret and service keys: configured, or — on a development
//! server only — generated once and kept in the database so that tokens and
//! keys survive restarts and the CLI can read them.

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
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(
        "{0} is not set. A server bound to {1} (not loopback) needs real secrets: set {0}, \
         or set ALERTHUB_DEV=1 to let a development server generate one"
    )]
    Missing(&'static str, String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

fn random_secret() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

impl Secrets {
    pub fn resolve(settings: &Settings, conn: &mut AnyConnection) -> Result<Self, SecretsError> {
        let mut generated = Vec::new();
        let mut dev_value = |name: &'static str, key: &str| -> Result<String, SecretsError> {
            if !settings.dev_secrets_allowed {
                return Err(SecretsError::Missing(name, settings.bind.clone()));
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
        Ok(Self {
            jwt_secret,
            service_keys,
            generated,
        })
    }
}
