//! Who a WebSocket session is: the HS256 JWT of the query's `token` (or the
//! `Authorization` header), checked as the contract says — signature with
//! the shared secret, `exp` required and enforced, the user claim equal to
//! the path's user, `token_type` `access` when present. Opaque tokens are
//! not supported by the reference (the load tool only mints JWTs).

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// Why a session is refused; the close reason of its 4003.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    AuthenticationFailed,
    UserMismatch,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Self::AuthenticationFailed => "authentication failed",
            Self::UserMismatch => "user mismatch",
        }
    }
}

/// An accepted credential: the user and the token's `exp` (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub exp: u64,
}

pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
    claim: String,
}

impl Verifier {
    pub fn new(secret: &str, claim: &str) -> Result<Self, String> {
        let key =
            DecodingKey::from_secret(secret.as_bytes()).map_err(|e| format!("JWT secret: {e}"))?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp"]);
        Ok(Self {
            key,
            validation,
            claim: claim.to_owned(),
        })
    }

    /// Checks `credential` (a JWT, optionally prefixed `Bearer `) for the
    /// path's `user`.
    pub fn verify(&self, credential: &str, user: &str) -> Result<Identity, Refusal> {
        let token = credential.strip_prefix("Bearer ").unwrap_or(credential);
        let data = jsonwebtoken::decode::<Value>(token, &self.key, &self.validation)
            .map_err(|_| Refusal::AuthenticationFailed)?;
        let claims = data.claims;
        if claims
            .get("token_type")
            .is_some_and(|t| t.as_str() != Some("access"))
        {
            return Err(Refusal::AuthenticationFailed);
        }
        let subject = match claims.get(&self.claim) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
            _ => return Err(Refusal::AuthenticationFailed),
        };
        let exp = claims
            .get("exp")
            .and_then(Value::as_u64)
            .ok_or(Refusal::AuthenticationFailed)?;
        if subject != user {
            return Err(Refusal::UserMismatch);
        }
        Ok(Identity { user: subject, exp })
    }
}

/// `^\w{1,64}$` (ASCII word characters), the contract's user id.
pub fn valid_user_id(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn token(secret: &str, claims: Value) -> String {
        let key = EncodingKey::from_secret(secret.as_bytes()).unwrap();
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
    }

    #[test]
    fn good_tokens_name_their_user() {
        let v = Verifier::new("s", "user_id").unwrap();
        let exp = now() + 60;
        let t = token(
            "s",
            json!({"user_id": "u_1", "exp": exp, "token_type": "access"}),
        );
        assert_eq!(
            v.verify(&t, "u_1"),
            Ok(Identity {
                user: "u_1".into(),
                exp
            })
        );
        assert!(v.verify(&format!("Bearer {t}"), "u_1").is_ok());
        let numeric = token("s", json!({"user_id": 42, "exp": exp}));
        assert_eq!(v.verify(&numeric, "42").map(|i| i.user), Ok("42".into()));
    }

    #[test]
    fn bad_tokens_are_refused_with_the_contracts_reasons() {
        let v = Verifier::new("s", "user_id").unwrap();
        let exp = now() + 60;
        let ok = json!({"user_id": "u", "exp": exp});
        assert_eq!(
            v.verify(&token("s", ok.clone()), "other"),
            Err(Refusal::UserMismatch)
        );
        for bad in [
            token("wrong", ok.clone()),
            token("s", json!({"user_id": "u"})),
            token("s", json!({"user_id": "u", "exp": now() - 5})),
            token(
                "s",
                json!({"user_id": "u", "exp": exp, "token_type": "refresh"}),
            ),
            token("s", json!({"sub": "u", "exp": exp})),
            "not.a.jwt".into(),
            String::new(),
        ] {
            assert_eq!(v.verify(&bad, "u"), Err(Refusal::AuthenticationFailed));
        }
        assert_eq!(Refusal::UserMismatch.reason(), "user mismatch");
    }

    #[test]
    fn user_ids_follow_the_pattern() {
        assert!(valid_user_id("u_1"));
        assert!(valid_user_id(&"a".repeat(64)));
        assert!(!valid_user_id(&"a".repeat(65)));
        assert!(!valid_user_id(""));
        assert!(!valid_user_id("a-b"));
        assert!(!valid_user_id("é"));
    }
}
