//! What the fuzz targets share: the invariants a parsed alert must keep, and
//! JSON equality that tolerates serde_json's best-effort float parsing.

use alerthub::models::{AlertRow, AlertView, FieldErrors, NewAlert, NewAlertRow};
use alerthub::protocol::{AlertMessage, ServerMessage};
use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{Value, json};

/// The instant every target parses "now" as: fixed, so that a crashing
/// input replays the same way. It has nanoseconds on purpose (the parser
/// must truncate them to microseconds).
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-11-25T12:00:00.123456789Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// Structural JSON equality, with numbers equal when they are the same
/// integer or floats within a few ULPs: without serde_json's
/// `float_roundtrip` feature, a float written and read back may move by one.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x == y {
                return true;
            }
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs()),
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

const KNOWN_FIELDS: [&str; 8] = [
    "user_id",
    "breach_id",
    "title",
    "severity",
    "confidence",
    "detected_at",
    "description",
    "source",
];

fn check_text(name: &str, value: &str, min: usize, max: usize) {
    let chars = value.chars().count();
    assert!(
        (min..=max).contains(&chars),
        "{name} has {chars} characters, outside {min}-{max}"
    );
    // PostgreSQL cannot store NUL (issue 9): it must be refused at parsing.
    assert!(!value.contains('\0'), "a NUL survived parsing in {name}");
}

/// A contract timestamp: RFC 3339, UTC with `Z`; returns the instant.
fn check_timestamp(name: &str, text: &str) -> DateTime<Utc> {
    assert!(text.ends_with('Z'), "{name} {text:?} is not UTC with Z");
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{name} {text:?} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// Every limit of contract §2 holds for an accepted alert, the alert is
/// what was sent (no field silently changed), and it survives the trip a
/// stored alert makes: `NewAlertRow` → row → `AlertView` → JSON on the wire
/// → read back by a client.
pub fn check_accepted(alert: &NewAlert, sent: &Value) {
    let now = now();
    let row = NewAlertRow::from_new(alert.clone(), now, None);

    // The user id: `^\w{1,64}$`, from a string or a non-negative integer.
    assert!(
        (1..=64).contains(&row.user_id.len())
            && row
                .user_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "user_id {:?} breaks ^\\w{{1,64}}$",
        row.user_id
    );
    match &sent["user_id"] {
        Value::String(s) => assert_eq!(&row.user_id, s),
        Value::Number(n) => {
            // Contract §2 (Decided): an integral number however written
            // (7, 7.0, 7e3; as JSON Schema, by its f64 value) is that
            // integer's decimal string; anything else is refused.
            let expected = match n.as_u64() {
                Some(u) => u.to_string(),
                None => {
                    let f = n.as_f64().expect("a JSON number is an f64");
                    assert!(
                        f.fract() == 0.0 && f >= 0.0,
                        "user_id {n} accepted but not a non-negative integer"
                    );
                    (f as u64).to_string()
                }
            };
            assert_eq!(row.user_id, expected, "user_id {n}");
        }
        other => panic!("user_id accepted from {other}"),
    }
    check_text("user_id", &row.user_id, 1, 64);
    check_text("breach_id", &row.breach_id, 1, 128);
    check_text("title", &row.title, 1, 200);
    assert_eq!(Some(row.breach_id.as_str()), sent["breach_id"].as_str());
    assert_eq!(Some(row.title.as_str()), sent["title"].as_str());
    for (name, stored, max) in [
        ("description", &row.description, 4000),
        ("source", &row.source, 64),
    ] {
        if let Some(text) = stored {
            check_text(name, text, 0, max);
        }
        assert_eq!(stored.as_deref(), sent[name].as_str(), "{name} changed");
    }
    assert!(
        ["LOW", "MEDIUM", "HIGH", "CRITICAL"].contains(&row.severity.as_str()),
        "severity {:?}",
        row.severity
    );
    assert_eq!(
        Some(row.severity.to_ascii_lowercase()),
        sent["severity"].as_str().map(str::to_ascii_lowercase)
    );
    assert!(
        (0.0..=1.0).contains(&row.confidence),
        "confidence {} outside [0, 1]",
        row.confidence
    );
    let detected_at = row.detected_at.and_utc();
    assert_eq!(
        detected_at,
        detected_at.trunc_subsecs(6),
        "more than microseconds"
    );
    match sent.get("detected_at") {
        None | Some(Value::Null) => assert_eq!(detected_at, now.trunc_subsecs(6)),
        Some(given) => {
            let given = DateTime::parse_from_rfc3339(given.as_str().expect("not a string"))
                .expect("accepted a detected_at that is not RFC 3339");
            assert_eq!(detected_at, given.with_timezone(&Utc).trunc_subsecs(6));
        }
    }

    // What the database hands back, as the client sees it.
    let stored = AlertRow {
        id: 1,
        user_id: row.user_id,
        breach_id: row.breach_id,
        title: row.title,
        severity: row.severity,
        confidence: row.confidence,
        detected_at: row.detected_at,
        description: row.description,
        source: row.source,
        read: row.read,
        created_at: row.created_at,
    };
    let view = AlertView::from(&stored);
    assert_eq!(
        check_timestamp("detected_at", &view.detected_at),
        detected_at
    );
    assert_eq!(
        check_timestamp("created_at", &view.created_at),
        now.trunc_subsecs(6)
    );
    let frame = ServerMessage::BreachAlert {
        message: AlertMessage {
            alert: &view,
            replayed: false,
        },
        timestamp: "2025-11-25T12:00:00Z",
    }
    .to_json();
    let frame: Value = serde_json::from_str(&frame).expect("breach_alert is not JSON");
    let back: AlertView =
        serde_json::from_value(frame["message"].clone()).expect("a client cannot read the alert");
    assert!(
        json_eq(&json!(back), &json!(view)),
        "the alert changed on the wire: {back:?} != {view:?}"
    );
}

/// A refusal names only fields that exist: the known ones, the body, or an
/// unknown key that was sent; each with a sentence.
pub fn check_refused(errors: &FieldErrors, sent: &Value) {
    assert!(!errors.is_empty(), "refused without saying why");
    for (field, why) in errors {
        assert!(!why.is_empty(), "{field}: no reason");
        let known = KNOWN_FIELDS.contains(&field.as_str()) || field == "body";
        let sent_key = sent.as_object().is_some_and(|o| o.contains_key(field));
        assert!(known || sent_key, "refusal names {field:?}, never sent");
    }
}
