//! The clock and the one timestamp format of the contract: RFC 3339 in UTC
//! with a `Z`, kept to microseconds so both backends store and return the
//! same instant.

use chrono::{DateTime, Datelike, SubsecRound, Utc};

use super::domain::ParseError;

/// Parses an RFC 3339 timestamp with any offset into UTC, kept to microseconds
/// so that every backend stores and returns exactly the same instant.
///
/// The instant must also be writable as RFC 3339 in UTC, which has four-digit
/// years: `0000-01-01T00:00:00+23:59` is year -1 in UTC and would be served
/// as `-0001-12-31T00:01:00Z`, which no client parses.
pub fn parse_timestamp(value: &serde_json::Value) -> Result<DateTime<Utc>, ParseError> {
    let t = value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc).trunc_subsecs(6))
        .ok_or("must be an RFC 3339 timestamp such as 2025-11-25T12:00:00Z")?;
    if !(0..=9999).contains(&t.year()) {
        return Err("must be between 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z".into());
    }
    Ok(t)
}

/// Formats an instant the way the contract writes every timestamp.
pub fn format_timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Now, as the contract writes it.
pub fn now_timestamp() -> String {
    format_timestamp(Utc::now())
}

/// Unix time in milliseconds, the clock events carry between nodes.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_are_normalised_to_utc() {
        let t = parse_timestamp(&json!("2025-11-25T13:00:00+01:00")).unwrap();
        assert_eq!(format_timestamp(t), "2025-11-25T12:00:00Z");
        assert!(parse_timestamp(&json!("2025-11-25 12:00")).is_err());
    }

    #[test]
    fn timestamps_stay_within_four_digit_years_in_utc() {
        // Caught by the trigger_body fuzz target: valid RFC 3339 with an
        // offset, but outside 0000-9999 once in UTC.
        assert!(parse_timestamp(&json!("0000-01-01T00:00:00+23:59")).is_err());
        assert!(parse_timestamp(&json!("9999-12-31T23:59:59-23:59")).is_err());
        let first = parse_timestamp(&json!("0000-01-01T00:00:00Z")).unwrap();
        assert_eq!(format_timestamp(first), "0000-01-01T00:00:00Z");
        let last = parse_timestamp(&json!("9999-12-31T23:59:59.999999Z")).unwrap();
        assert_eq!(format_timestamp(last), "9999-12-31T23:59:59.999999Z");
    }
}
