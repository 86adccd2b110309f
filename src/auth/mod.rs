//! Who is calling: user credentials (JWTs and opaque API tokens) and the
//! service keys that may trigger alerts.
//!
//! JWTs are checked here with no I/O. Opaque tokens need the database;
//! `Authenticator::authenticate` asks it through `TokenLookup`, which
//! refuses tokens alerthub never issued without a query and bounds how often
//! the rest may be looked up. Only a SHA-256 of each opaque token is stored.

pub mod credential;
pub mod jwt;
pub mod keys;
pub mod lookup;
pub mod opaque;
pub mod refusal;

use std::sync::Arc;

use actix::Recipient;

pub use self::credential::{AuthError, Credential};
pub use self::jwt::{JwtVerifier, KeyError, mint_jwt};
use self::lookup::{LookupError, TokenLookup};
pub use self::refusal::Refusal;
use crate::actors::messages::TokenUser;
use crate::models::UserId;

/// Checks any user credential; opaque tokens are looked up in storage.
#[derive(Clone)]
pub struct Authenticator {
    jwt: JwtVerifier,
    db: Recipient<TokenUser>,
    tokens: Arc<TokenLookup>,
    service_keys: Vec<String>,
}

/// What a trigger's `Authorization` header turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum ServiceAuth {
    Service,
    /// A valid user credential: authenticated, but not allowed to trigger.
    User,
    Invalid(Refusal),
}

impl Authenticator {
    pub fn new(
        jwt: JwtVerifier,
        db: Recipient<TokenUser>,
        tokens: Arc<TokenLookup>,
        service_keys: Vec<String>,
    ) -> Self {
        Self {
            jwt,
            db,
            tokens,
            service_keys,
        }
    }

    pub async fn authenticate(&self, credential: &Credential) -> Result<UserId, AuthError> {
        match credential {
            Credential::Jwt(token) => self.jwt.verify(token),
            Credential::Opaque(token) => {
                self.tokens
                    .user(&self.db, token)
                    .await
                    .map_err(|e| match e {
                        LookupError::Unknown => AuthError::Invalid(Refusal::UnknownToken),
                        // Not a verdict on the token: the client may retry.
                        LookupError::Busy | LookupError::Unavailable => AuthError::Unavailable,
                    })
            }
        }
    }

    /// Forgets what this node cached about an opaque token (call it when
    /// the token is revoked here, so the revocation holds at once).
    pub fn forget_token(&self, token: &str) {
        self.tokens.forget(token);
    }

    /// Service keys are compared in constant time so their bytes cannot be
    /// guessed from response timing.
    pub async fn authenticate_service(
        &self,
        credential: Option<&Credential>,
    ) -> Result<ServiceAuth, AuthError> {
        let Some(credential) = credential else {
            return Ok(ServiceAuth::Invalid(Refusal::Missing));
        };
        let secret = credential.secret().as_bytes();
        if self
            .service_keys
            .iter()
            .any(|k| constant_time_eq::constant_time_eq(k.as_bytes(), secret))
        {
            return Ok(ServiceAuth::Service);
        }
        match self.authenticate(credential).await {
            Ok(_) => Ok(ServiceAuth::User),
            Err(AuthError::Invalid(why)) => Ok(ServiceAuth::Invalid(why)),
            Err(e) => Err(e),
        }
    }
}
