//! User tokens: HS256 JWTs minted with the server's shared secret, the same
//! shape Django's Simple JWT issues (`user_id`, `exp`, `token_type`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

#[derive(Clone)]
pub struct Minter {
    key: EncodingKey,
    header: Header,
    claim: String,
}

impl Minter {
    pub fn new(secret: &str, claim: &str) -> Result<Self, String> {
        let key =
            EncodingKey::from_secret(secret.as_bytes()).map_err(|e| format!("JWT secret: {e}"))?;
        Ok(Self {
            key,
            header: Header::new(Algorithm::HS256),
            claim: claim.to_owned(),
        })
    }

    /// An access token for `user`, valid for `ttl`.
    pub fn mint(&self, user: &str, ttl: Duration) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let mut claims = json!({
            "exp": now + ttl.as_secs().max(1),
            "iat": now,
            "token_type": "access",
        });
        claims[&self.claim] = json!(user);
        jsonwebtoken::encode(&self.header, &claims, &self.key)
            .expect("HS256 encoding of a JSON object cannot fail")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation, decode};

    #[test]
    fn minted_tokens_verify_with_the_secret() {
        let m = Minter::new("s3cret", "user_id").unwrap();
        let token = m.mint("u_1", Duration::from_secs(3600));
        assert_eq!(token.split('.').count(), 3);
        let key = DecodingKey::from_secret(b"s3cret").unwrap();
        let data =
            decode::<serde_json::Value>(&token, &key, &Validation::new(Algorithm::HS256)).unwrap();
        assert_eq!(data.claims["user_id"], "u_1");
        assert_eq!(data.claims["token_type"], "access");
        let wrong = DecodingKey::from_secret(b"other").unwrap();
        assert!(
            decode::<serde_json::Value>(&token, &wrong, &Validation::new(Algorithm::HS256))
                .is_err()
        );
    }

    #[test]
    fn the_user_claim_is_configurable() {
        let m = Minter::new("k", "sub").unwrap();
        let token = m.mint("42", Duration::from_secs(60));
        let key = DecodingKey::from_secret(b"k").unwrap();
        let mut v = Validation::new(Algorithm::HS256);
        v.required_spec_claims.clear();
        let data = decode::<serde_json::Value>(&token, &key, &v).unwrap();
        assert_eq!(data.claims["sub"], "42");
        assert!(Minter::new("", "user_id").is_err());
    }
}
