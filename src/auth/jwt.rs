//! JWTs: verified with the configured keys only, with no I/O; and minted
//! (HS256, shaped like Simple JWT's access tokens) for trying things out.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value, json};

use super::credential::AuthError;
use super::keys::CheckedKey;
use super::refusal::Refusal;
use crate::models::UserId;

/// Verifies JWTs with the configured keys only; `alg: none` cannot even be
/// expressed in `jsonwebtoken`'s header type, and an algorithm with no key
/// configured is refused before any signature check.
#[derive(Clone)]
pub struct JwtVerifier {
    secret: Option<DecodingKey>,
    /// The key that enables RS256 or ES256, checked at start-up.
    public: Option<CheckedKey>,
    user_claim: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

/// What a verified JWT says about its session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtClaims {
    pub user: UserId,
    /// `exp`, Unix seconds.
    pub exp: i64,
    /// `iat`, Unix seconds, if the token has one.
    pub iat: Option<i64>,
}

impl JwtVerifier {
    /// `public` comes from `jwt_keys::public_key_from_pem`, which refuses
    /// anything but one RSA or P-256 public key.
    pub fn new(
        secret: Option<&str>,
        public: Option<CheckedKey>,
        user_claim: &str,
    ) -> Result<Self, KeyError> {
        let secret = secret
            .map(|s| DecodingKey::from_secret(s.as_bytes()))
            .transpose()
            .map_err(|e| KeyError(format!("bad JWT secret: {e}")))?;
        Ok(Self {
            secret,
            public,
            user_claim: user_claim.to_owned(),
        })
    }

    pub fn verify(&self, token: &str) -> Result<UserId, AuthError> {
        self.verify_claims(token).map(|c| c.user)
    }

    /// Verifies a JWT and returns what a session needs of it: the user,
    /// `exp` (the session ends there) and `iat` (checked against a sign-out).
    pub fn verify_claims(&self, token: &str) -> Result<JwtClaims, AuthError> {
        let refused = |why| AuthError::Invalid(why);
        let header = jsonwebtoken::decode_header(token).map_err(|_| refused(Refusal::Malformed))?;
        let key = match (header.alg, &self.secret, &self.public) {
            (Algorithm::HS256, Some(secret), _) => secret,
            (alg, _, Some(public)) if alg == public.algorithm => &public.key,
            _ => return Err(refused(Refusal::Algorithm)),
        };
        let mut validation = Validation::new(header.alg);
        validation.set_required_spec_claims(&["exp"]);
        // `exp` and `nbf` alike: no leeway. (`nbf` is optional; when present
        // the token is refused before it.)
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = 0;
        // Simple JWT sets no audience; we do not require one.
        validation.validate_aud = false;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)
            .map_err(|e| refused(jwt_refusal(e.kind())))?;
        let claims = data.claims;
        if claims
            .get("token_type")
            .is_some_and(|kind| kind != "access")
        {
            return Err(refused(Refusal::NotAccessToken));
        }
        let user = claims
            .get(&self.user_claim)
            .ok_or(refused(Refusal::MissingClaim))?;
        let user = UserId::from_claim(user).map_err(|_| refused(Refusal::MissingClaim))?;
        // `validate_exp` checked that `exp` is a number; a fractional one is
        // cut to the second before it, so the session never outlives it.
        let exp = claims
            .get("exp")
            .and_then(Value::as_f64)
            .ok_or(refused(Refusal::MissingClaim))? as i64;
        let iat = match claims.get("iat") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_f64().ok_or(refused(Refusal::Malformed))? as i64),
        };
        Ok(JwtClaims { user, exp, iat })
    }
}

/// Why `jsonwebtoken` refused a token, in the log's words.
fn jwt_refusal(kind: &jsonwebtoken::errors::ErrorKind) -> Refusal {
    use jsonwebtoken::errors::ErrorKind;
    match kind {
        ErrorKind::InvalidSignature => Refusal::BadSignature,
        ErrorKind::ExpiredSignature => Refusal::Expired,
        ErrorKind::ImmatureSignature => Refusal::NotYetValid,
        ErrorKind::MissingRequiredClaim(_) => Refusal::MissingClaim,
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => Refusal::Algorithm,
        _ => Refusal::Malformed,
    }
}

/// Mints an HS256 access token shaped like Simple JWT's, for trying things out.
pub fn mint_jwt(
    secret: &str,
    user_claim: &str,
    user: &UserId,
    ttl_seconds: u64,
) -> Result<String, KeyError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut jti = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut jti);
    let claims = json!({
        user_claim: user.as_str(),
        "token_type": "access",
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": hex::encode(jti),
    });
    let key = EncodingKey::from_secret(secret.as_bytes()).map_err(|e| KeyError(e.to_string()))?;
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
        .map_err(|e| KeyError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier() -> JwtVerifier {
        JwtVerifier::new(Some("s3cret"), None, "user_id").unwrap()
    }

    fn sign(claims: Value, secret: &str) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    fn exp() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 600
    }

    #[test]
    fn simple_jwt_access_tokens_work() {
        let t = sign(
            json!({"token_type":"access","exp":exp(),"jti":"x","user_id":42}),
            "s3cret",
        );
        assert_eq!(verifier().verify(&t).unwrap().as_str(), "42");
    }

    #[test]
    fn refresh_tokens_expired_tokens_and_wrong_keys_fail() {
        let v = verifier();
        let refused = |why| Err(AuthError::Invalid(why));
        let refresh = sign(
            json!({"token_type":"refresh","exp":exp(),"user_id":1}),
            "s3cret",
        );
        assert_eq!(v.verify(&refresh), refused(Refusal::NotAccessToken));
        let expired = sign(json!({"exp":1000,"user_id":1}), "s3cret");
        assert_eq!(v.verify(&expired), refused(Refusal::Expired));
        let no_exp = sign(json!({"user_id":1}), "s3cret");
        assert_eq!(v.verify(&no_exp), refused(Refusal::MissingClaim));
        let wrong = sign(json!({"exp":exp(),"user_id":1}), "other");
        assert_eq!(v.verify(&wrong), refused(Refusal::BadSignature));
        let no_user = sign(json!({"exp":exp(),"user_id":"a-b"}), "s3cret");
        assert_eq!(v.verify(&no_user), refused(Refusal::MissingClaim));
        assert_eq!(v.verify("a.b.c"), refused(Refusal::Malformed));
    }

    #[test]
    fn nbf_is_honoured_with_no_leeway() {
        let v = verifier();
        let now = exp() - 600;
        let later = sign(json!({"exp":exp(),"nbf":now + 30,"user_id":1}), "s3cret");
        assert_eq!(
            v.verify(&later),
            Err(AuthError::Invalid(Refusal::NotYetValid))
        );
        let started = sign(json!({"exp":exp(),"nbf":now - 1,"user_id":1}), "s3cret");
        assert!(v.verify(&started).is_ok());
        let bad = sign(json!({"exp":exp(),"nbf":"soon","user_id":1}), "s3cret");
        assert_eq!(v.verify(&bad), Err(AuthError::Invalid(Refusal::Malformed)));
    }

    #[test]
    fn alg_none_and_unconfigured_algorithms_fail() {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let header = b64(r#"{"alg":"none","typ":"JWT"}"#);
        let claims = b64(&format!(r#"{{"exp":{},"user_id":"1"}}"#, exp()));
        assert_eq!(
            verifier().verify(&format!("{header}.{claims}.")),
            Err(AuthError::Invalid(Refusal::Malformed))
        );
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &json!({"exp":exp(),"user_id":"1"}),
            &EncodingKey::from_secret(b"s3cret").unwrap(),
        )
        .unwrap();
        assert_eq!(
            verifier().verify(&hs512),
            Err(AuthError::Invalid(Refusal::Algorithm))
        );
    }

    #[test]
    fn the_user_claim_name_is_configurable() {
        let v = JwtVerifier::new(Some("s3cret"), None, "sub").unwrap();
        let t = sign(json!({"exp":exp(),"sub":"alice"}), "s3cret");
        assert_eq!(v.verify(&t).unwrap().as_str(), "alice");
        let t = sign(json!({"exp":exp(),"user_id":"alice"}), "s3cret");
        assert_eq!(v.verify(&t), Err(AuthError::Invalid(Refusal::MissingClaim)));
    }

    #[test]
    fn claims_carry_exp_and_iat() {
        let e = exp();
        let t = sign(json!({"exp":e,"iat":e - 600,"user_id":1}), "s3cret");
        let c = verifier().verify_claims(&t).unwrap();
        assert_eq!((c.exp, c.iat), (e as i64, Some(e as i64 - 600)));
        let t = sign(json!({"exp":e,"user_id":1}), "s3cret");
        assert_eq!(verifier().verify_claims(&t).unwrap().iat, None);
        let t = sign(json!({"exp":e,"iat":"early","user_id":1}), "s3cret");
        assert_eq!(
            verifier().verify_claims(&t),
            Err(AuthError::Invalid(Refusal::Malformed))
        );
    }

    #[test]
    fn minted_tokens_verify() {
        let user = UserId::parse("7").unwrap();
        let t = mint_jwt("s3cret", "user_id", &user, 60).unwrap();
        assert_eq!(verifier().verify(&t).unwrap(), user);
    }
}
