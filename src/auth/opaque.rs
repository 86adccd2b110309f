//! alerthub's opaque API tokens: their format, how they are minted, and the
//! check that tells a token alerthub issued from anything else *without*
//! asking the database.
//!
//! A token is `ahk_<random>_<tag>`: 32 random bytes and an HMAC-SHA256 tag
//! of `ahk_<random>`, both in lower-case hex. The tag's key is generated once
//! and kept in the database's settings table (see `storage::token_key`), so
//! every node and the CLI share it. The tag is a filter, not the credential:
//! a token is only good while its SHA-256 is stored and not revoked. What the
//! tag buys is that a value alerthub never issued — a guess, a typo, a forged
//! token — is refused with no database query, so a flood of them cannot
//! drive the database. (Someone who can read the settings table can forge
//! tags, but gains nothing from it: the token must still be stored.)
//!
//! Tokens minted before tags existed (`ahk_<64 hex>`) are recognised as
//! `Legacy`; `token_lookup` decides what checking one may cost.

use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

const PREFIX: &str = "ahk_";
const RANDOM_BYTES: usize = 32;
/// The whole HMAC-SHA256 output: `verify_slice` compares all of it.
const TAG_BYTES: usize = 32;
const KEY_BYTES: usize = 32;

/// The server-side key that tags opaque tokens.
#[derive(Clone)]
pub struct TokenKey([u8; KEY_BYTES]);

/// Never prints the key.
impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(…)")
    }
}

/// What a presented opaque token turned out to be, before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Shaped like ours and its tag verifies under our key.
    Issued,
    /// Shaped like a token of the untagged format (`ahk_<64 hex>`).
    Legacy,
    /// Anything else, including a token of ours with a wrong tag.
    Foreign,
}

impl TokenKey {
    /// A fresh random key, hex-encoded, as it is kept in the settings table.
    pub fn generate_hex() -> String {
        let mut key = [0u8; KEY_BYTES];
        rand::rng().fill_bytes(&mut key);
        hex::encode(key)
    }

    /// The key as kept in the settings table; `None` unless it is 32 bytes of hex.
    pub fn from_hex(stored: &str) -> Option<Self> {
        let mut key = [0u8; KEY_BYTES];
        hex::decode_to_slice(stored.trim(), &mut key).ok()?;
        Some(Self(key))
    }

    fn mac(&self, body: &str) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail.
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC takes keys of any length")
            .chain_update(body.as_bytes())
    }

    /// A new token: `ahk_<random>_<tag>`.
    pub fn mint(&self) -> String {
        let mut random = [0u8; RANDOM_BYTES];
        rand::rng().fill_bytes(&mut random);
        let body = format!("{PREFIX}{}", hex::encode(random));
        let tag = self.mac(&body).finalize().into_bytes();
        format!("{body}_{}", hex::encode(tag))
    }

    /// Classifies a presented token with no I/O. The tag is compared in
    /// constant time (`verify_slice`), so its bytes cannot be found by timing.
    pub fn classify(&self, token: &str) -> Kind {
        let Some(rest) = token.strip_prefix(PREFIX) else {
            return Kind::Foreign;
        };
        match rest.split_once('_') {
            None if is_lower_hex(rest, RANDOM_BYTES * 2) => Kind::Legacy,
            Some((random, tag))
                if is_lower_hex(random, RANDOM_BYTES * 2) && is_lower_hex(tag, TAG_BYTES * 2) =>
            {
                let mut tag_bytes = [0u8; TAG_BYTES];
                if hex::decode_to_slice(tag, &mut tag_bytes).is_err() {
                    return Kind::Foreign;
                }
                let body = &token[..PREFIX.len() + random.len()];
                match self.mac(body).verify_slice(&tag_bytes) {
                    Ok(()) => Kind::Issued,
                    Err(_) => Kind::Foreign,
                }
            }
            _ => Kind::Foreign,
        }
    }
}

/// Exactly `len` characters of lower-case hex (what `mint` writes; any
/// other spelling could not match a stored hash anyway).
fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The SHA-256 of a token: the only form in which tokens are stored, and
/// the key of the lookup cache.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// `hash` in hex, as the `api_tokens.token_hash` column holds it.
pub fn hash_hex(token: &str) -> String {
    hex::encode(hash(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::from_hex(&TokenKey::generate_hex()).unwrap()
    }

    #[test]
    fn minted_tokens_verify_under_their_key_only() {
        let (k, other) = (key(), key());
        let t = k.mint();
        assert_eq!(t.len(), 4 + 64 + 1 + 64);
        assert_eq!(k.classify(&t), Kind::Issued);
        assert_eq!(other.classify(&t), Kind::Foreign);
    }

    #[test]
    fn any_changed_character_is_foreign() {
        let k = key();
        let t = k.mint();
        for i in 4..t.len() {
            if t.as_bytes()[i] == b'_' {
                continue;
            }
            let mut bytes = t.clone().into_bytes();
            bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
            let tampered = String::from_utf8(bytes).unwrap();
            assert_eq!(k.classify(&tampered), Kind::Foreign, "position {i}");
        }
        // A shortened tag is not accepted either.
        assert_eq!(k.classify(&t[..t.len() - 2]), Kind::Foreign);
        assert_eq!(k.classify(&t.to_uppercase()), Kind::Foreign);
    }

    #[test]
    fn the_untagged_format_is_legacy_and_the_rest_foreign() {
        let k = key();
        assert_eq!(
            k.classify(&format!("ahk_{}", "ab".repeat(32))),
            Kind::Legacy
        );
        assert_eq!(
            k.classify(&format!("ahk_{}", "ab".repeat(31))),
            Kind::Foreign
        );
        assert_eq!(k.classify(&"ab".repeat(20)), Kind::Foreign);
        assert_eq!(k.classify(""), Kind::Foreign);
        assert_eq!(k.classify("ahk_"), Kind::Foreign);
        assert_eq!(k.classify("ahk_é"), Kind::Foreign);
    }

    #[test]
    fn keys_round_trip_through_hex_and_never_print() {
        let hex = TokenKey::generate_hex();
        let k = TokenKey::from_hex(&hex).unwrap();
        assert_eq!(hex::encode(k.0), hex);
        assert_eq!(format!("{k:?}"), "TokenKey(…)");
        assert!(TokenKey::from_hex("zz").is_none());
        assert!(TokenKey::from_hex(&"ab".repeat(31)).is_none());
    }
}
