//! The JWT public key (`ALERTHUB_JWT_PUBLIC_KEY`), inspected at start-up.
//!
//! `jsonwebtoken` takes almost any PEM file: a P-384 key, or a *private*
//! key, or a certificate "parses" as a public key, and then every RS256 /
//! ES256 login fails with 4003 and nothing in the log says why. So the file
//! is read here with maintained parsers (`pem`, `spki`, and the `rsa` and
//! `p256` crates that `jsonwebtoken` verifies with) and anything but one RSA
//! (at least 2048 bits) or P-256 public key is a start-up error that says
//! what the file holds and how to get the right one. No error carries any
//! part of the key.

use jsonwebtoken::{Algorithm, DecodingKey};
use spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// RS256 keys shorter than this are refused (NIST SP 800-57: 2048 bits is
/// the floor since 2013).
pub const MIN_RSA_BITS: usize = 2048;

/// What is wrong with the configured public key. Messages complete a
/// sentence that starts with the variable and the path.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyFileError {
    #[error("is not a PEM file (expected a block such as -----BEGIN PUBLIC KEY-----)")]
    NotPem,
    #[error("holds {0} PEM blocks; give exactly one public key")]
    SeveralBlocks(usize),
    #[error(
        "holds a private key ({0}); give its public key instead \
         (openssl pkey -in KEY -pubout) and keep the private key off this server"
    )]
    PrivateKey(String),
    #[error(
        "holds a certificate, not a public key; give its public key instead \
         (openssl x509 -in CERT -pubkey -noout)"
    )]
    Certificate,
    #[error("holds a PEM block labelled {0:?}, not a public key")]
    OtherBlock(String),
    #[error("holds an EC key on curve {0}; only P-256 (prime256v1, for ES256) is supported")]
    WrongCurve(String),
    #[error("holds an RSA key of {0} bits; RS256 needs at least {MIN_RSA_BITS}")]
    WeakRsa(usize),
    #[error(
        "holds a {0} public key; only RSA (RS256) and EC P-256 (ES256) public keys are supported"
    )]
    UnsupportedAlgorithm(String),
    #[error("is not a valid {0} public key: {1}")]
    Malformed(&'static str, String),
}

/// A checked public key and the one algorithm it verifies.
#[derive(Clone)]
pub struct CheckedKey {
    pub key: DecodingKey,
    pub algorithm: Algorithm,
}

/// Reads a PEM file that must hold exactly one RSA or P-256 public key.
pub fn public_key_from_pem(file: &[u8]) -> Result<CheckedKey, KeyFileError> {
    let blocks = pem::parse_many(file).map_err(|_| KeyFileError::NotPem)?;
    // A private key anywhere in the file is the most important thing to say.
    if let Some(private) = blocks.iter().find(|b| b.tag().contains("PRIVATE KEY")) {
        return Err(KeyFileError::PrivateKey(label(private.tag())));
    }
    let block = match blocks.as_slice() {
        [] => return Err(KeyFileError::NotPem),
        [one] => one,
        several => return Err(KeyFileError::SeveralBlocks(several.len())),
    };
    match block.tag() {
        "PUBLIC KEY" => from_spki(file, block.contents()),
        "RSA PUBLIC KEY" => {
            use rsa::pkcs1::DecodeRsaPublicKey;
            let key = rsa::PublicKey::from_pkcs1_der(block.contents())
                .map_err(|e| KeyFileError::Malformed("RSA", e.to_string()))?;
            rsa_key(file, &key)
        }
        "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => {
            Err(KeyFileError::Certificate)
        }
        other => Err(KeyFileError::OtherBlock(label(other))),
    }
}

fn from_spki(file: &[u8], der: &[u8]) -> Result<CheckedKey, KeyFileError> {
    let info = SubjectPublicKeyInfoRef::try_from(der)
        .map_err(|e| KeyFileError::Malformed("SubjectPublicKeyInfo", e.to_string()))?;
    match info.algorithm.oid {
        RSA_ENCRYPTION => {
            let key = rsa::PublicKey::try_from(info)
                .map_err(|e| KeyFileError::Malformed("RSA", e.to_string()))?;
            rsa_key(file, &key)
        }
        EC_PUBLIC_KEY => {
            let curve = info
                .algorithm
                .parameters_oid()
                .map_err(|e| KeyFileError::Malformed("EC", e.to_string()))?;
            if curve != P256 {
                return Err(KeyFileError::WrongCurve(curve_name(curve)));
            }
            // Checks that the point is on the curve.
            p256::PublicKey::try_from(info)
                .map_err(|e| KeyFileError::Malformed("P-256", e.to_string()))?;
            let key = DecodingKey::from_ec_pem(file)
                .map_err(|e| KeyFileError::Malformed("P-256", e.to_string()))?;
            Ok(CheckedKey {
                key,
                algorithm: Algorithm::ES256,
            })
        }
        other => Err(KeyFileError::UnsupportedAlgorithm(algorithm_name(other))),
    }
}

fn rsa_key(file: &[u8], key: &rsa::PublicKey) -> Result<CheckedKey, KeyFileError> {
    use rsa::traits::PublicKeyParts;
    let bits = key.size() * 8;
    if bits < MIN_RSA_BITS {
        return Err(KeyFileError::WeakRsa(bits));
    }
    let key = DecodingKey::from_rsa_pem(file)
        .map_err(|e| KeyFileError::Malformed("RSA", e.to_string()))?;
    Ok(CheckedKey {
        key,
        algorithm: Algorithm::RS256,
    })
}

/// A PEM label as found, bounded: it is the operator's own file, but a
/// garbage file should not fill the terminal.
fn label(tag: &str) -> String {
    tag.chars().take(40).collect()
}

fn curve_name(oid: ObjectIdentifier) -> String {
    match oid.to_string().as_str() {
        "1.3.132.0.34" => "P-384".into(),
        "1.3.132.0.35" => "P-521".into(),
        "1.3.132.0.10" => "secp256k1".into(),
        other => format!("with OID {other}"),
    }
}

fn algorithm_name(oid: ObjectIdentifier) -> String {
    match oid.to_string().as_str() {
        "1.3.101.112" => "Ed25519".into(),
        "1.3.101.113" => "Ed448".into(),
        "1.3.101.110" => "X25519".into(),
        "1.2.840.113549.1.1.10" => "RSASSA-PSS".into(),
        "1.2.840.10040.4.1" => "DSA".into(),
        other => format!("OID {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn err(file: &[u8]) -> KeyFileError {
        public_key_from_pem(file).err().expect("the key is refused")
    }

    #[test]
    fn rsa_and_p256_public_keys_are_accepted() {
        let rsa = public_key_from_pem(&fixture("rsa_public.pem")).unwrap();
        assert_eq!(rsa.algorithm, Algorithm::RS256);
        let ec = public_key_from_pem(&fixture("ec_public.pem")).unwrap();
        assert_eq!(ec.algorithm, Algorithm::ES256);
    }

    #[test]
    fn pkcs1_rsa_public_keys_are_accepted() {
        use rsa::pkcs1::EncodeRsaPublicKey;
        use rsa::pkcs8::DecodePublicKey;
        let key = rsa::PublicKey::from_public_key_pem(
            std::str::from_utf8(&fixture("rsa_public.pem")).unwrap(),
        )
        .unwrap();
        let pkcs1 = key
            .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
            .unwrap()
            .into_bytes();
        assert!(pkcs1.starts_with(b"-----BEGIN RSA PUBLIC KEY-----"));
        assert_eq!(
            public_key_from_pem(&pkcs1).unwrap().algorithm,
            Algorithm::RS256
        );
    }

    #[test]
    fn short_rsa_keys_are_refused() {
        use rsa::pkcs8::EncodePublicKey;
        let mut n = [0xC5u8; 128];
        n[127] |= 1;
        let key = rsa::PublicKey::new(
            rsa::BoxedUint::from_be_slice(&n, 1024).unwrap(),
            rsa::BoxedUint::from(65_537u32),
        )
        .unwrap();
        let pem = key.to_public_key_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        assert_eq!(err(pem.as_bytes()), KeyFileError::WeakRsa(1024));
    }

    #[test]
    fn private_keys_are_refused_and_named() {
        for name in ["rsa_private.pem", "ec_private.pem"] {
            assert!(
                matches!(err(&fixture(name)), KeyFileError::PrivateKey(_)),
                "{name}"
            );
        }
        // Also beside a public key in the same file.
        let mut both = fixture("rsa_public.pem");
        both.extend(fixture("rsa_private.pem"));
        assert!(matches!(err(&both), KeyFileError::PrivateKey(_)));
        let mut two = fixture("rsa_public.pem");
        two.extend(fixture("ec_public.pem"));
        assert_eq!(err(&two), KeyFileError::SeveralBlocks(2));
    }

    #[test]
    fn other_curves_are_refused() {
        use p384::pkcs8::EncodePublicKey;
        let secret = p384::SecretKey::from_slice(&[7u8; 48]).unwrap();
        let pem = secret
            .public_key()
            .to_public_key_pem(p384::pkcs8::LineEnding::LF)
            .unwrap();
        assert_eq!(
            err(pem.as_bytes()),
            KeyFileError::WrongCurve("P-384".into())
        );
    }

    #[test]
    fn garbage_certificates_and_other_blocks_are_refused() {
        assert_eq!(err(b""), KeyFileError::NotPem);
        assert_eq!(err(b"not a key at all"), KeyFileError::NotPem);
        let block = |tag: &str, contents: &[u8]| {
            pem::encode(&pem::Pem::new(tag, contents.to_vec())).into_bytes()
        };
        assert_eq!(
            err(&block("CERTIFICATE", b"\x30\x00")),
            KeyFileError::Certificate
        );
        assert_eq!(
            err(&block("DH PARAMETERS", b"\x30\x00")),
            KeyFileError::OtherBlock("DH PARAMETERS".into())
        );
        assert!(matches!(
            err(&block("PUBLIC KEY", b"\x30\x03\x02\x01\x00")),
            KeyFileError::Malformed(..)
        ));
        // A truncated key is malformed, not a panic.
        let whole = fixture("ec_public.pem");
        let der = pem::parse(&whole).unwrap().into_contents();
        let cut = block("PUBLIC KEY", &der[..der.len() - 5]);
        assert!(matches!(err(&cut), KeyFileError::Malformed(..)));
    }

    #[test]
    fn errors_never_carry_key_material() {
        let file = fixture("rsa_private.pem");
        let text = err(&file).to_string();
        let body: String = String::from_utf8(file)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        for chunk in body.as_bytes().chunks(16) {
            assert!(!text.contains(std::str::from_utf8(chunk).unwrap()));
        }
    }
}
