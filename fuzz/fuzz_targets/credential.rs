//! Credentials as a client presents them: `Credential::parse` on an
//! `Authorization` header or `token` query value, `JwtVerifier::verify`
//! configured as in production with an HS256 secret and an ES256 public key,
//! and `TokenKey::classify`, which decides with no I/O whether an opaque
//! token is one alerthub issued (its HMAC tag) before any database lookup.
//!
//! Two kinds of input, so that seeds are readable files:
//! - raw (no 0xFF byte): the bytes, as text, are the credential, parsed with
//!   `Credential::parse` and verified as a token;
//! - built, `header 0xFF claims 0xFF signer`: a JWT assembled from the
//!   header and claims bytes (base64url-encoded as they are, JSON or not),
//!   then signed with the configured secret (`S`), a wrong secret (`W`), the
//!   configured EC key (`E`), the public key's PEM used as an HMAC secret
//!   (`P`, algorithm confusion), or given any other bytes as its signature.
//!   Signing with the real keys lets the fuzzer past the signature into
//!   claim validation.
//!
//! Checks, beyond "does not panic":
//! - the credential's kind follows the contract's shape rule, it is never
//!   empty or padded with whitespace, and re-prefixing it reads the same;
//! - a token is accepted only if its header names a configured algorithm
//!   and its signature verifies under the configured key (HS256 checked
//!   with an independent HMAC, ES256 with the public key);
//! - an accepted token has a numeric `exp` not in the past, no `token_type`
//!   other than `access`, and the user claim it was accepted for, and is
//!   not used before its `nbf`;
//! - an opaque token is classified as issued only with our exact HMAC tag
//!   (checked independently), and as legacy only in the old exact shape.
#![no_main]

use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use alerthub::auth::keys::public_key_from_pem;
use alerthub::auth::opaque::{Kind, TokenKey};
use alerthub::auth::{Credential, JwtVerifier};
use alerthub::models::UserId;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{KeyInit, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The HS256 secret the verifier is configured with. The seed corpus's
/// valid tokens are signed with it.
const SECRET: &str = "alerthub-fuzz-secret-0123456789abcdef";
const WRONG_SECRET: &str = "alerthub-fuzz-secret-0123456789abcdeF";
const EC_PRIVATE: &[u8] = include_bytes!("../../tests/fixtures/ec_private.pem");
const EC_PUBLIC: &[u8] = include_bytes!("../../tests/fixtures/ec_public.pem");
const USER_CLAIM: &str = "user_id";

static VERIFIER: LazyLock<JwtVerifier> = LazyLock::new(|| {
    let public = public_key_from_pem(EC_PUBLIC).unwrap();
    JwtVerifier::new(Some(SECRET), Some(public), USER_CLAIM).unwrap()
});
/// The key that tags opaque tokens (kept in the settings table in
/// production); bytes 0x00..=0x1f. The seeds' issued tokens carry its tags.
const TOKEN_KEY: [u8; 32] = {
    let mut key = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        key[i] = i as u8;
        i += 1;
    }
    key
};
static TOKEN_TAGGER: LazyLock<TokenKey> = LazyLock::new(|| {
    let hex: String = TOKEN_KEY.iter().map(|b| format!("{b:02x}")).collect();
    TokenKey::from_hex(&hex).unwrap()
});
static EC_DECODING: LazyLock<DecodingKey> =
    LazyLock::new(|| DecodingKey::from_ec_pem(EC_PUBLIC).unwrap());

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// How a `Built` token is signed: the first byte after the second 0xFF.
enum Signer<'a> {
    /// `S`: the configured HS256 secret.
    Secret,
    /// `W`: a secret one character off.
    WrongSecret,
    /// `E`: the configured EC key (ES256).
    EcKey,
    /// `P`: HMAC keyed with the public key's PEM, the classic algorithm
    /// confusion.
    PublicPemAsHmac,
    /// Anything else: these bytes, base64url-encoded, are the signature.
    Bytes(&'a [u8]),
}

impl<'a> Signer<'a> {
    fn from_bytes(bytes: &'a [u8]) -> Self {
        match bytes {
            [b'S'] => Self::Secret,
            [b'W'] => Self::WrongSecret,
            [b'E'] => Self::EcKey,
            [b'P'] => Self::PublicPemAsHmac,
            other => Self::Bytes(other),
        }
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// `base64url(header).base64url(claims).signature`, over the exact bytes.
fn build(header: &[u8], claims: &[u8], signer: Signer) -> String {
    let input = format!("{}.{}", B64.encode(header), B64.encode(claims));
    let signature = match signer {
        Signer::Secret => B64.encode(hmac_sha256(SECRET.as_bytes(), input.as_bytes())),
        Signer::WrongSecret => B64.encode(hmac_sha256(WRONG_SECRET.as_bytes(), input.as_bytes())),
        Signer::PublicPemAsHmac => B64.encode(hmac_sha256(EC_PUBLIC, input.as_bytes())),
        Signer::EcKey => jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &EncodingKey::from_ec_pem(EC_PRIVATE).unwrap(),
            Algorithm::ES256,
        )
        .unwrap(),
        Signer::Bytes(bytes) => B64.encode(bytes),
    };
    format!("{input}.{signature}")
}

/// What must hold of a token `verify` accepted for `user`.
fn check_accepted(token: &str, user: &UserId, before: i64, after: i64) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "accepted a token of {} parts", parts.len());
    let input = format!("{}.{}", parts[0], parts[1]);
    let header: Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
    let signature = B64
        .decode(parts[2])
        .expect("accepted an undecodable signature");
    match header["alg"].as_str() {
        Some("HS256") => assert_eq!(
            signature,
            hmac_sha256(SECRET.as_bytes(), input.as_bytes()),
            "accepted an HS256 token not signed with the configured secret"
        ),
        Some("ES256") => assert!(
            jsonwebtoken::crypto::verify(
                parts[2],
                input.as_bytes(),
                &EC_DECODING,
                Algorithm::ES256
            )
            .unwrap(),
            "accepted an ES256 token not signed with the configured key"
        ),
        other => panic!("accepted a token with alg {other:?}"),
    }

    let claims: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    let exp = claims["exp"]
        .as_f64()
        .expect("accepted a token without exp");
    assert!(
        exp >= before as f64,
        "accepted an expired token (exp {exp})"
    );
    if let Some(kind) = claims.get("token_type") {
        assert_eq!(kind, "access", "accepted a token_type {kind}");
    }
    let claimed = UserId::from_claim(&claims[USER_CLAIM]).expect("accepted a bad user claim");
    assert_eq!(&claimed, user);
    if let Some(nbf) = claims.get("nbf") {
        let nbf = nbf
            .as_f64()
            .expect("accepted a token with a non-numeric nbf");
        assert!(nbf <= after as f64, "accepted a token before its nbf");
    }
}

fn verify(token: &str) {
    let before = unix_now();
    let verdict = VERIFIER.verify(token);
    let after = unix_now();
    if let Ok(user) = verdict {
        check_accepted(token, &user, before, after);
    }
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// An opaque token is `Issued` (let through to the database) only if it is
/// `ahk_<64 hex>_<64 hex>` and the tag is the HMAC of the rest under our
/// key, checked here independently; `Legacy` only for `ahk_<64 hex>`.
fn check_opaque(token: &str) {
    match TOKEN_TAGGER.classify(token) {
        Kind::Issued => {
            let (body, tag) = token.rsplit_once('_').expect("issued without a tag");
            let random = body.strip_prefix("ahk_").expect("issued without ahk_");
            assert!(
                is_lower_hex(random, 64) && is_lower_hex(tag, 64),
                "issued a token of the wrong shape: {token:?}"
            );
            let expected: String = hmac_sha256(&TOKEN_KEY, body.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(tag, expected, "issued a token whose tag is not ours");
        }
        Kind::Legacy => {
            let random = token.strip_prefix("ahk_").expect("legacy without ahk_");
            assert!(
                is_lower_hex(random, 64),
                "legacy of the wrong shape: {token:?}"
            );
        }
        Kind::Foreign => {}
    }
}

fn is_jwt_shaped(value: &str) -> bool {
    let parts: Vec<&str> = value.split('.').collect();
    parts.len() == 3
        && !parts[0].is_empty()
        && !parts[1].is_empty()
        && parts.iter().all(|p| {
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn check_credential(raw: &str) {
    let Some(credential) = Credential::parse(raw) else {
        // Only nothing, or a scheme word with nothing after it, is no credential.
        let rest = raw.trim();
        assert!(
            rest.is_empty()
                || rest.eq_ignore_ascii_case("bearer")
                || rest.eq_ignore_ascii_case("token"),
            "refused {raw:?}, which carries a value"
        );
        return;
    };
    let secret = credential.secret();
    assert!(!secret.is_empty(), "an empty credential");
    assert_eq!(secret, secret.trim(), "the credential keeps whitespace");
    assert!(raw.contains(secret), "the credential is not in the input");
    match &credential {
        Credential::Jwt(_) => assert!(is_jwt_shaped(secret), "{secret:?} taken as a JWT"),
        Credential::Opaque(_) => assert!(!is_jwt_shaped(secret), "{secret:?} taken as opaque"),
    }
    for scheme in ["Bearer", "Token", "bearer"] {
        assert_eq!(
            Credential::parse(&format!("{scheme} {secret}")).as_ref(),
            Some(&credential),
            "re-prefixing with {scheme} reads differently"
        );
    }
    if let Credential::Opaque(token) = &credential {
        check_opaque(token);
    }
    verify(secret);
}

/// 0xFF never occurs in UTF-8, so it separates the parts of a `Built` input.
const SEPARATOR: u8 = 0xFF;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == SEPARATOR);
    match (parts.next(), parts.next(), parts.next()) {
        (Some(header), Some(claims), Some(signer)) => {
            let token = build(header, claims, Signer::from_bytes(signer));
            check_credential(&token);
            verify(&token);
        }
        _ => {
            // A header or query value is text; let through what a client
            // could send, lossily.
            let raw = String::from_utf8_lossy(data);
            check_credential(&raw);
            verify(&raw);
        }
    }
});
