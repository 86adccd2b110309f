//! `Identity`: who a checked credential names, and what binds a session to
//! that credential (contract §5): when it expires and, for an opaque token,
//! which token it was, so that revoking it can close the session.

use crate::models::UserId;
use crate::protocol::SecretText;

/// A credential that authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: UserId,
    /// A JWT's `exp`, Unix seconds; `None` for an opaque token.
    pub expires_at: Option<i64>,
    /// The SHA-256 of an opaque token (never the token itself).
    pub token_hash: Option<[u8; 32]>,
    /// A token checked by introspection: the session must ask again
    /// periodically, so it keeps the token itself (never printed).
    pub recheck: Option<SecretText>,
}
