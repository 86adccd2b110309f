//! A trigger request as a service sends it (`NewAlert`), parsed once at the
//! edge: every field checked against the contract, every bad field named.

use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;

use super::domain::{
    BreachId, Confidence, Description, ParseError, Severity, Source, Title, UserId,
};
use super::time::parse_timestamp;

/// A trigger request that passed every check of the contract.
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub user_id: UserId,
    pub breach_id: BreachId,
    pub title: Title,
    pub severity: Severity,
    pub confidence: Confidence,
    pub detected_at: DateTime<Utc>,
    pub description: Option<Description>,
    pub source: Option<Source>,
}

/// Field name → why it was refused; becomes the error's `details`.
pub type FieldErrors = BTreeMap<String, String>;

pub(crate) const KNOWN_FIELDS: [&str; 8] = [
    "user_id",
    "breach_id",
    "title",
    "severity",
    "confidence",
    "detected_at",
    "description",
    "source",
];

impl NewAlert {
    /// Parses the trigger JSON, collecting every bad field rather than
    /// stopping at the first, so a service can fix its request in one go.
    pub fn parse(value: &Value, now: DateTime<Utc>) -> Result<Self, FieldErrors> {
        // Both backends keep microseconds; so does every default we fill in.
        let now = now.trunc_subsecs(6);
        let mut errors = FieldErrors::new();
        let Some(obj) = value.as_object() else {
            errors.insert("body".into(), "must be a JSON object".into());
            return Err(errors);
        };
        for key in obj.keys() {
            if !KNOWN_FIELDS.contains(&key.as_str()) {
                errors.insert(key.clone(), "unknown field".into());
            }
        }
        let null = Value::Null;
        let field = |name: &str| obj.get(name).unwrap_or(&null);
        let required = |name: &str| match obj.get(name) {
            None | Some(Value::Null) => Err::<&Value, ParseError>("is required".into()),
            Some(v) => Ok(v),
        };
        let optional = |name: &str| !matches!(field(name), Value::Null);

        let user_id = take(
            &mut errors,
            "user_id",
            required("user_id").and_then(UserId::from_claim),
        );
        let breach_id = take(
            &mut errors,
            "breach_id",
            required("breach_id").and_then(BreachId::parse),
        );
        let title = take(
            &mut errors,
            "title",
            required("title").and_then(Title::parse),
        );
        let severity = take(
            &mut errors,
            "severity",
            required("severity").and_then(|v| {
                v.as_str()
                    .ok_or_else(|| "must be a string".to_string())
                    .and_then(Severity::parse)
            }),
        );
        let confidence = take(
            &mut errors,
            "confidence",
            required("confidence").and_then(Confidence::parse),
        );
        let detected_at = if optional("detected_at") {
            take(
                &mut errors,
                "detected_at",
                parse_timestamp(field("detected_at")),
            )
        } else {
            Some(now)
        };
        let description = if optional("description") {
            take(
                &mut errors,
                "description",
                Description::parse(field("description")),
            )
            .map(Some)
        } else {
            Some(None)
        };
        let source = if optional("source") {
            take(&mut errors, "source", Source::parse(field("source"))).map(Some)
        } else {
            Some(None)
        };

        match (
            user_id,
            breach_id,
            title,
            severity,
            confidence,
            detected_at,
            description,
            source,
        ) {
            (
                Some(user_id),
                Some(breach_id),
                Some(title),
                Some(severity),
                Some(confidence),
                Some(detected_at),
                Some(description),
                Some(source),
            ) if errors.is_empty() => Ok(Self {
                user_id,
                breach_id,
                title,
                severity,
                confidence,
                detected_at,
                description,
                source,
            }),
            _ => Err(errors),
        }
    }
}

/// Keeps a parsed value, or records why the field was refused.
fn take<T>(errors: &mut FieldErrors, name: &str, parsed: Result<T, ParseError>) -> Option<T> {
    parsed.map_err(|e| errors.insert(name.to_owned(), e)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({"user_id":"1","breach_id":"B1","title":"T","severity":"high","confidence":0.5})
    }

    #[test]
    fn a_minimal_trigger_parses_with_defaults() {
        let now = Utc::now();
        let a = NewAlert::parse(&valid(), now).unwrap();
        assert_eq!(a.severity, Severity::High);
        assert_eq!(a.detected_at, now.trunc_subsecs(6));
        assert!(a.description.is_none() && a.source.is_none());
    }

    #[test]
    fn numeric_user_ids_are_accepted() {
        let mut v = valid();
        v["user_id"] = json!(42);
        assert_eq!(
            NewAlert::parse(&v, Utc::now()).unwrap().user_id.as_str(),
            "42"
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let v = json!({"user_id":"a-b","title":"","severity":"x","confidence":2,"extra":1,"source":"s".repeat(65)});
        let errors = NewAlert::parse(&v, Utc::now()).unwrap_err();
        let keys: Vec<_> = errors.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "breach_id",
                "confidence",
                "extra",
                "severity",
                "source",
                "title",
                "user_id"
            ]
        );
    }

    #[test]
    fn nul_in_any_text_field_is_named() {
        let nul = "x\u{0}";
        let v = json!({"user_id": nul, "breach_id": nul, "title": nul, "severity": "high\u{0}",
            "confidence": 0.5, "detected_at": format!("2025-11-25T12:00:00Z{nul}"),
            "description": nul, "source": nul});
        let errors = NewAlert::parse(&v, Utc::now()).unwrap_err();
        let keys: Vec<_> = errors.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "breach_id",
                "description",
                "detected_at",
                "severity",
                "source",
                "title",
                "user_id"
            ]
        );
        assert!(errors["title"].contains("NUL"), "{errors:?}");
    }

    #[test]
    fn a_non_object_is_refused() {
        assert!(
            NewAlert::parse(&json!([1]), Utc::now())
                .unwrap_err()
                .contains_key("body")
        );
    }
}
