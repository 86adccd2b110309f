//! The trigger's request bodies as the OpenAPI document describes them.
//!
//! `NewAlert::parse` and `parse_batch` read the JSON themselves, so that a
//! refusal names every bad field at once; these types exist only to give
//! the document a schema for what those parsers accept. A test keeps their
//! fields equal to the parser's `KNOWN_FIELDS`, and the schemathesis run
//! (`clients/openapi/run.sh`) sends what they describe to the real server.

use serde::Deserialize;
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, ObjectBuilder, OneOfBuilder, Type};

/// One alert for `POST /api/v1/alerts` (and each item of a batch).
/// Unknown fields are refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewAlert)]
pub struct TriggerAlert {
    /// The user who gets the alert: `^\w{1,64}$` (ASCII), or a non-negative
    /// integer, which becomes its decimal string.
    #[schema(schema_with = user_id_schema)]
    pub user_id: serde_json::Value,
    /// With `user_id`, makes the trigger idempotent.
    #[schema(min_length = 1, max_length = 128, pattern = r"^[^\u0000]*$")]
    pub breach_id: String,
    #[schema(min_length = 1, max_length = 200, pattern = r"^[^\u0000]*$")]
    pub title: String,
    /// LOW, MEDIUM, HIGH or CRITICAL, in any case.
    #[schema(
        pattern = "^([Ll][Oo][Ww]|[Mm][Ee][Dd][Ii][Uu][Mm]|[Hh][Ii][Gg][Hh]|[Cc][Rr][Ii][Tt][Ii][Cc][Aa][Ll])$"
    )]
    pub severity: String,
    #[schema(minimum = 0, maximum = 1)]
    pub confidence: f64,
    /// RFC 3339 with any offset, stored in UTC; defaults to now.
    #[schema(format = DateTime)]
    pub detected_at: Option<String>,
    #[schema(max_length = 4000, pattern = r"^[^\u0000]*$")]
    pub description: Option<String>,
    /// Which internal service raised the alert.
    #[schema(max_length = 64, pattern = r"^[^\u0000]*$")]
    pub source: Option<String>,
}

/// `POST /api/v1/alerts/batch`: 1–1,000 alerts, stored all or nothing.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewAlertBatch)]
pub struct TriggerBatch {
    #[schema(min_items = 1, max_items = 1000)]
    pub alerts: Vec<TriggerAlert>,
}

/// `user_id` in a trigger: the contract's pattern, or a JWT-style number.
pub fn user_id_schema() -> utoipa::openapi::Schema {
    let text: Object = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[A-Za-z0-9_]{1,64}$"))
        .build();
    let number: Object = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
        .maximum(Some(u64::MAX))
        .build();
    utoipa::openapi::Schema::OneOf(OneOfBuilder::new().item(text).item(number).build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::new_alert::KNOWN_FIELDS;
    use utoipa::PartialSchema;
    use utoipa::openapi::{RefOr, Schema};

    #[test]
    fn the_documented_fields_are_the_ones_the_parser_knows() {
        let RefOr::T(Schema::Object(schema)) = TriggerAlert::schema() else {
            panic!("not an object schema");
        };
        let mut documented: Vec<&str> = schema.properties.keys().map(String::as_str).collect();
        let mut known = KNOWN_FIELDS.to_vec();
        documented.sort_unstable();
        known.sort_unstable();
        assert_eq!(documented, known);
        let mut required: Vec<&str> = schema.required.iter().map(String::as_str).collect();
        required.sort_unstable();
        assert_eq!(
            required,
            ["breach_id", "confidence", "severity", "title", "user_id"]
        );
    }
}
