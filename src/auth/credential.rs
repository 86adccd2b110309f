//! A credential as a caller presents it (`Bearer <JWT>`, `Token <key>` or
//! a bare value), and why one was refused.

use super::refusal::Refusal;

/// A credential as presented, before it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Jwt(String),
    Opaque(String),
}

impl Credential {
    /// Reads `Bearer <x>`, `Token <x>` or a bare value. The shape decides the
    /// kind: three base64url parts joined by dots is a JWT, anything else an
    /// opaque token (our opaque tokens never contain a dot).
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        let is_scheme =
            |s: &str| s.eq_ignore_ascii_case("bearer") || s.eq_ignore_ascii_case("token");
        let value = match raw.split_once(char::is_whitespace) {
            Some((scheme, rest)) if is_scheme(scheme) => rest.trim(),
            _ if is_scheme(raw) => "",
            _ => raw,
        };
        if value.is_empty() {
            return None;
        }
        Some(if looks_like_jwt(value) {
            Self::Jwt(value.into())
        } else {
            Self::Opaque(value.into())
        })
    }

    /// The raw secret, for comparing with service keys.
    pub fn secret(&self) -> &str {
        match self {
            Self::Jwt(s) | Self::Opaque(s) => s,
        }
    }
}

fn looks_like_jwt(value: &str) -> bool {
    let parts: Vec<&str> = value.split('.').collect();
    parts.len() == 3
        && parts.iter().take(2).all(|p| !p.is_empty())
        && parts.iter().all(|p| {
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Missing, malformed, expired, revoked or wrongly signed. The reason is
    /// for the log (`auth_refusal::log_refusal`); clients only ever see
    /// `authentication failed`.
    #[error("authentication failed")]
    Invalid(Refusal),
    /// The token store could not be asked (or this node's lookup budget is
    /// spent, see `token_lookup`): not a verdict on the credential.
    #[error("storage unavailable")]
    Unavailable,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_shapes() {
        assert_eq!(
            Credential::parse("Bearer a.b.c"),
            Some(Credential::Jwt("a.b.c".into()))
        );
        assert_eq!(
            Credential::parse("a.b.c"),
            Some(Credential::Jwt("a.b.c".into()))
        );
        assert_eq!(
            Credential::parse("Token ahk_1"),
            Some(Credential::Opaque("ahk_1".into()))
        );
        assert_eq!(
            Credential::parse("ahk_1"),
            Some(Credential::Opaque("ahk_1".into()))
        );
        assert_eq!(
            Credential::parse("a.b"),
            Some(Credential::Opaque("a.b".into()))
        );
        assert_eq!(Credential::parse("Bearer "), None);
    }
}
