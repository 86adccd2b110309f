//! The VAPID key (RFC 8292): a P-256 key that identifies this server to
//! push services. Browsers subscribe with its public half
//! (`GET /api/v1/push/vapid-public-key`); each request carries an ES256 JWT
//! signed with the private half (`aud` = the endpoint's origin, `exp` at
//! most 24 h ahead, `sub` = the operator's contact).
//!
//! The private key never reaches a log line: `Debug` shows the public key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use web_push_native::p256::SecretKey;
use web_push_native::p256::elliptic_curve::sec1::ToEncodedPoint;
use web_push_native::p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};

/// How long a VAPID signature is valid: push services refuse more than
/// 24 h; 12 h leaves room for clock skew.
pub const SIGNATURE_LIFETIME_SECS: u64 = 12 * 3600;

#[derive(Debug, thiserror::Error)]
pub enum VapidError {
    #[error("is not a P-256 private key in PEM (PKCS#8 or SEC1)")]
    NotP256,
    #[error("cannot sign: {0}")]
    Sign(String),
}

#[derive(Clone)]
pub struct VapidKey {
    signing: EncodingKey,
    /// Uncompressed public point, base64url without padding.
    public_key: String,
    subject: String,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VapidKey(public {}, {})", self.public_key, self.subject)
    }
}

impl VapidKey {
    /// A key from PEM text (`-----BEGIN PRIVATE KEY-----` or
    /// `-----BEGIN EC PRIVATE KEY-----`, as `openssl ecparam` writes it).
    pub fn from_pem(pem: &str, subject: &str) -> Result<Self, VapidError> {
        let secret = SecretKey::from_pkcs8_pem(pem)
            .or_else(|_| SecretKey::from_sec1_pem(pem))
            .map_err(|_| VapidError::NotP256)?;
        let der = secret.to_pkcs8_der().map_err(|_| VapidError::NotP256)?;
        let point = secret.public_key().to_encoded_point(false);
        Ok(Self {
            signing: EncodingKey::from_ec_der(der.as_bytes()),
            public_key: URL_SAFE_NO_PAD.encode(point.as_bytes()),
            subject: subject.to_owned(),
        })
    }

    /// A new random key, as PKCS#8 PEM (for a development server to keep).
    pub fn generate_pem() -> String {
        loop {
            let mut bytes = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
            // Fails only for 0 or a value above the group order (p ≈ 2^-32).
            if let Ok(secret) = SecretKey::from_slice(&bytes)
                && let Ok(pem) = secret.to_pkcs8_pem(LineEnding::LF)
            {
                return pem.to_string();
            }
        }
    }

    /// The public key, base64url of the uncompressed point.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The `Authorization` header for a request to `origin`
    /// (`scheme://host[:port]`), valid `SIGNATURE_LIFETIME_SECS` from `now`.
    pub fn authorization(&self, origin: &str, now_secs: u64) -> Result<String, VapidError> {
        let claims = serde_json::json!({
            "aud": origin,
            "exp": now_secs + SIGNATURE_LIFETIME_SECS,
            "sub": self.subject,
        });
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("JWT".into());
        let token = jsonwebtoken::encode(&header, &claims, &self.signing)
            .map_err(|e| VapidError::Sign(e.to_string()))?;
        Ok(format!("vapid t={token}, k={}", self.public_key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_signs_what_its_public_key_verifies() {
        let key = VapidKey::from_pem(&VapidKey::generate_pem(), "mailto:ops@example.com").unwrap();
        let header = key.authorization("https://push.example", 1_000).unwrap();
        let token = header
            .strip_prefix("vapid t=")
            .and_then(|r| r.split(", k=").next())
            .unwrap();
        let point = URL_SAFE_NO_PAD.decode(key.public_key()).unwrap();
        assert_eq!(point.len(), 65);
        let mut v = jsonwebtoken::Validation::new(Algorithm::ES256);
        v.set_audience(&["https://push.example"]);
        v.validate_exp = false;
        let claims = jsonwebtoken::decode::<serde_json::Value>(
            token,
            &jsonwebtoken::DecodingKey::from_ec_der(&point),
            &v,
        )
        .unwrap()
        .claims;
        assert_eq!(claims["sub"], "mailto:ops@example.com");
        assert_eq!(claims["exp"], 1_000 + SIGNATURE_LIFETIME_SECS);
        assert!(!format!("{key:?}").contains("PRIVATE"));
    }

    #[test]
    fn anything_but_a_p256_key_is_refused() {
        assert!(VapidKey::from_pem("not a key", "mailto:a@b").is_err());
    }
}
