//! Who is calling: user credentials (JWTs and opaque API tokens) and the
//! service keys that may trigger alerts.
//!
//! JWTs are checked here with no I/O. Opaque tokens need the database;
//! `Authenticator::authenticate` asks it through `TokenLookup`, which
//! refuses tokens alerthub never issued without a query and bounds how often
//! the rest may be looked up. Only a SHA-256 of each opaque token is stored.

pub mod credential;
pub mod identity;
pub mod introspection;
pub mod jwt;
pub mod keys;
pub mod lookup;
pub mod opaque;
pub mod refusal;
pub mod sign_outs;

use std::sync::Arc;
use std::time::Duration;

use actix::Recipient;

pub use self::credential::{AuthError, Credential};
pub use self::identity::Identity;
use self::introspection::{IntrospectionError, Introspector, Verdict};
pub use self::jwt::{JwtVerifier, KeyError, mint_jwt};
use self::lookup::{LookupError, TokenLookup};
use self::opaque as opaque_tokens;
pub use self::refusal::Refusal;
pub use self::sign_outs::SignOuts;
use crate::actors::messages::TokenUser;
use crate::models::UserId;
use crate::models::time::now_ms;
use crate::protocol::{ControlEvent, SecretText};

/// Checks any user credential; opaque tokens are looked up in storage.
#[derive(Clone)]
pub struct Authenticator {
    jwt: JwtVerifier,
    db: Recipient<TokenUser>,
    tokens: Arc<TokenLookup>,
    sign_outs: Arc<SignOuts>,
    introspector: Option<Arc<Introspector>>,
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
        sign_outs: Arc<SignOuts>,
        introspector: Option<Introspector>,
        service_keys: Vec<String>,
    ) -> Self {
        Self {
            jwt,
            db,
            tokens,
            sign_outs,
            introspector: introspector.map(Arc::new),
            service_keys,
        }
    }

    /// How often a session opened with an introspected token re-checks it.
    pub fn recheck_period(&self) -> Option<Duration> {
        self.introspector.as_ref().map(|i| i.recheck_period())
    }

    /// Asks the introspection endpoint again (not its cache) whether the
    /// token is still active for `user`. `Err`: no answer, keep going.
    pub async fn still_active(&self, token: &SecretText, user: &UserId) -> Result<bool, AuthError> {
        let Some(introspector) = &self.introspector else {
            return Ok(true);
        };
        match introspector.recheck(token.expose()).await {
            Ok(Verdict::Active { user: u, exp }) => {
                Ok(&u == user && exp.is_none_or(|e| e * 1000 > now_ms()))
            }
            Ok(Verdict::Inactive) => Ok(false),
            Err(_) => Err(AuthError::Unavailable),
        }
    }

    /// An opaque token alerthub did not issue, checked by the endpoint.
    async fn introspect(
        &self,
        introspector: &Introspector,
        token: &str,
    ) -> Result<Identity, AuthError> {
        match introspector.check(token).await {
            Ok(Verdict::Active { user, exp }) => {
                if exp.is_some_and(|e| e * 1000 <= now_ms()) {
                    return Err(AuthError::Invalid(Refusal::Expired));
                }
                Ok(Identity {
                    user,
                    expires_at: exp,
                    token_hash: Some(opaque_tokens::hash(token)),
                    recheck: Some(SecretText::new(token)),
                })
            }
            Ok(Verdict::Inactive) => Err(AuthError::Invalid(Refusal::UnknownToken)),
            Err(IntrospectionError::Unavailable | IntrospectionError::Busy) => {
                Err(AuthError::Unavailable)
            }
        }
    }

    /// Checks a user credential: who it names and what binds a session
    /// to it. A JWT issued before its user signed out is refused.
    pub async fn authenticate(&self, credential: &Credential) -> Result<Identity, AuthError> {
        match credential {
            Credential::Jwt(token) => {
                let claims = self.jwt.verify_claims(token)?;
                self.sign_outs.check(&claims.user, claims.iat)?;
                Ok(Identity {
                    user: claims.user,
                    expires_at: Some(claims.exp),
                    token_hash: None,
                    recheck: None,
                })
            }
            Credential::Opaque(token) => {
                if let Some(introspector) = &self.introspector
                    && !self.tokens.issued_here(token)
                {
                    return self.introspect(introspector, token).await;
                }
                let user = self
                    .tokens
                    .user(&self.db, token)
                    .await
                    .map_err(|e| match e {
                        LookupError::Unknown => AuthError::Invalid(Refusal::UnknownToken),
                        // Not a verdict on the token: the client may retry.
                        LookupError::Busy | LookupError::Unavailable => AuthError::Unavailable,
                    })?;
                Ok(Identity {
                    user,
                    expires_at: None,
                    token_hash: Some(opaque_tokens::hash(token)),
                    recheck: None,
                })
            }
        }
    }

    /// What a credential ending means for this node's caches, wherever it
    /// ended: a revoked token is looked up again on its next use, and a
    /// sign-out voids older JWTs at once.
    pub fn apply(&self, event: &ControlEvent) {
        match event {
            ControlEvent::TokenRevoked { token_hash, .. } => {
                let mut hash = [0u8; 32];
                if hex::decode_to_slice(token_hash, &mut hash).is_ok() {
                    self.tokens.forget_hash(&hash);
                }
            }
            ControlEvent::SignedOut {
                user,
                revoke_tokens: true,
                at_ms,
                ..
            } => {
                if let Ok(user) = UserId::parse(user) {
                    self.sign_outs.signed_out(&user, *at_ms);
                    self.tokens.forget_user(&user);
                }
            }
            ControlEvent::SignedOut { .. } => {}
        }
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
