//! Domain types that parse client input once, at the edge.
//!
//! Every value a client can send (a path segment, a JSON field, a query
//! parameter) becomes one of these types before any other code sees it, so the
//! rest of the service never re-checks a length or a pattern. A failed parse
//! carries a human sentence that ends up in the contract's error `details`.

use std::fmt;

use serde::Serialize;

/// The sentence that explains why a value was refused.
pub type ParseError = String;

/// A user id as the contract defines it: `^\w{1,64}$`.
///
/// `\w` is taken as ASCII letters, digits and `_`, which is what the Django
/// URL pattern of the replaced system matched.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let valid = (1..=64).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err("must be 1-64 letters, digits or underscores".into())
        }
    }

    /// Accepts the claim forms a JWT issuer uses: a string, or a non-negative
    /// integer (Django's primary keys), which becomes its decimal string.
    /// An integer written with a fraction or an exponent (`7.0`, `1e3`) is
    /// the same integer, as JSON Schema counts it: `"7"`, `"1000"`.
    pub fn from_claim(value: &serde_json::Value) -> Result<Self, ParseError> {
        const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
        match value {
            serde_json::Value::String(s) => Self::parse(s),
            serde_json::Value::Number(n) if n.is_u64() || n.is_i64() => Self::parse(&n.to_string()),
            serde_json::Value::Number(n) => match n.as_f64() {
                // Exact: an integral f64 below 2^64 converts without rounding.
                Some(f) if f.fract() == 0.0 && (0.0..TWO_POW_64).contains(&f) => {
                    Self::parse(&(f as u64).to_string())
                }
                _ => Err("must be a string or an integer".into()),
            },
            _ => Err("must be a string or an integer".into()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How bad a breach is. Input is case-insensitive; output is upper-case.
/// Ordered from least to most severe (`ALERTHUB_PUSH_MIN_SEVERITY` compares).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        match raw.to_ascii_uppercase().as_str() {
            "LOW" => Ok(Self::Low),
            "MEDIUM" => Ok(Self::Medium),
            "HIGH" => Ok(Self::High),
            "CRITICAL" => Ok(Self::Critical),
            _ => Err("must be one of LOW, MEDIUM, HIGH, CRITICAL".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "LOW",
            Self::Medium => "MEDIUM",
            Self::High => "HIGH",
            Self::Critical => "CRITICAL",
        }
    }
}

/// The scanner's confidence in a finding, a number in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Confidence(f64);

impl Confidence {
    pub fn parse(value: &serde_json::Value) -> Result<Self, ParseError> {
        match value.as_f64() {
            Some(v) if (0.0..=1.0).contains(&v) => Ok(Self(v)),
            _ => Err("must be a number between 0 and 1".into()),
        }
    }

    pub fn value(self) -> f64 {
        self.0
    }
}

/// Refuses text that a backend cannot store as it is. PostgreSQL `text`
/// refuses the NUL character (`invalid byte sequence for encoding "UTF8":
/// 0x00`) and SQLite would store it but cut it short in its own text
/// functions; every other Unicode scalar value (all a Rust `str` can hold,
/// so no lone surrogates) is stored by both. Checked at the edge so that both
/// backends answer the same 422, and so that such a value never reaches a
/// transaction shared with other requests.
pub fn storable_text(s: &str) -> Result<(), ParseError> {
    if s.contains('\0') {
        return Err("must not contain the NUL character (\\u0000)".into());
    }
    Ok(())
}

/// A string field with a length range counted in characters, not bytes, so
/// that a title in any script gets the same limit.
fn bounded_text(value: &serde_json::Value, min: usize, max: usize) -> Result<String, ParseError> {
    let s = value
        .as_str()
        .ok_or_else(|| "must be a string".to_string())?;
    storable_text(s)?;
    let len = s.chars().count();
    if len < min || len > max {
        return Err(if min == 0 {
            format!("must be at most {max} characters")
        } else {
            format!("must be {min}-{max} characters")
        });
    }
    Ok(s.to_owned())
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $min:expr, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: &serde_json::Value) -> Result<Self, ParseError> {
                bounded_text(value, $min, $max).map(Self)
            }

            pub fn into_inner(self) -> String {
                self.0
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

text_type!(
    /// The scanner's identifier of a breach; with the user it makes a trigger idempotent.
    BreachId, 1, 128
);
text_type!(
    /// The headline a user sees.
    Title, 1, 200
);
text_type!(
    /// Optional free text under the headline.
    Description, 0, 4000
);
text_type!(
    /// Which internal service raised the alert.
    Source, 0, 64
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn user_id_follows_the_pattern() {
        assert!(UserId::parse("42").is_ok());
        assert!(UserId::parse("user_1").is_ok());
        assert!(UserId::parse(&"a".repeat(64)).is_ok());
        assert!(UserId::parse(&"a".repeat(65)).is_err());
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse("a-b").is_err());
        assert!(UserId::parse("é").is_err());
    }

    #[test]
    fn numeric_claims_become_decimal_strings() {
        assert_eq!(UserId::from_claim(&json!(7)).unwrap().as_str(), "7");
        assert!(UserId::from_claim(&json!(-7)).is_err());
        assert!(UserId::from_claim(&json!(1.5)).is_err());
        assert_eq!(UserId::from_claim(&json!(1411.0)).unwrap().as_str(), "1411");
        assert_eq!(
            UserId::from_claim(&json!(1e19)).unwrap().as_str(),
            "10000000000000000000"
        );
        assert!(UserId::from_claim(&json!(-1.0)).is_err());
        assert!(UserId::from_claim(&json!(1.8446744073709552e19)).is_err());
        assert!(UserId::from_claim(&json!(null)).is_err());
        // Read as JSON Schema validators read numbers, as 64-bit floats: one
        // too small to tell from 0 is 0 (found by the trigger_body fuzz
        // target; its check now follows this rule).
        let tiny: serde_json::Value = serde_json::from_str("5.5e-400").unwrap();
        assert_eq!(UserId::from_claim(&tiny).unwrap().as_str(), "0");
    }

    #[test]
    fn severity_is_case_insensitive() {
        assert_eq!(Severity::parse("high").unwrap(), Severity::High);
        assert_eq!(Severity::parse("CrItIcAl").unwrap().as_str(), "CRITICAL");
        assert!(Severity::parse("urgent").is_err());
    }

    #[test]
    fn confidence_is_a_number_in_range() {
        assert!(Confidence::parse(&json!(0)).is_ok());
        assert!(Confidence::parse(&json!(1.0)).is_ok());
        assert!(Confidence::parse(&json!(1.01)).is_err());
        assert!(Confidence::parse(&json!("0.5")).is_err());
    }

    #[test]
    fn lengths_count_characters() {
        assert!(Title::parse(&json!("é".repeat(200))).is_ok());
        assert!(Title::parse(&json!("é".repeat(201))).is_err());
        assert!(Title::parse(&json!("")).is_err());
        assert!(Description::parse(&json!("")).is_ok());
    }

    #[test]
    fn nul_is_refused_in_every_text_type() {
        let nul = json!("a\u{0}b");
        for refused in [
            BreachId::parse(&nul).err(),
            Title::parse(&nul).err(),
            Description::parse(&nul).err(),
            Source::parse(&nul).err(),
            Title::parse(&json!("\u{0}")).err(),
        ] {
            assert!(refused.is_some_and(|why| why.contains("NUL")));
        }
        // Other control characters and non-characters are stored by both backends.
        assert!(Title::parse(&json!("tab\there \u{1}\u{7f}\u{fffe}\u{10ffff}")).is_ok());
        assert!(UserId::parse("a\u{0}").is_err());
    }
}
