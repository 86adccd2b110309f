//! The body of `POST /api/v1/alerts/batch`, parsed with no I/O: the handler
//! and the fuzz target (`fuzz/fuzz_targets/trigger_body.rs`) call the same
//! function.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::new_alert::NewAlert;

/// Max items in one batch.
pub const BATCH_MAX: usize = 1000;

/// Parses `{"alerts":[...]}` with 1–[`BATCH_MAX`] items, validating every
/// item before any is stored: all or nothing. The error is the contract's
/// `details` object: a field name (`body`, `alerts` or an unknown key) or,
/// for bad items, each bad item's index → its field errors.
pub fn parse_batch(value: &Value, now: DateTime<Utc>) -> Result<Vec<NewAlert>, Value> {
    let items = match value {
        Value::Object(obj) => {
            if let Some(extra) = obj.keys().find(|k| *k != "alerts") {
                return Err(json!({ extra: "unknown field" }));
            }
            obj.get("alerts").and_then(Value::as_array)
        }
        _ => return Err(json!({ "body": "must be a JSON object with \"alerts\"" })),
    };
    let items = items
        .filter(|a| (1..=BATCH_MAX).contains(&a.len()))
        .ok_or_else(|| json!({ "alerts": "must be an array of 1-1000 alerts" }))?;

    let mut alerts = Vec::with_capacity(items.len());
    let mut errors = Map::new();
    for (i, item) in items.iter().enumerate() {
        match NewAlert::parse(item, now) {
            Ok(alert) => alerts.push(alert),
            Err(fields) => {
                errors.insert(i.to_string(), json!(fields));
            }
        }
    }
    if errors.is_empty() {
        Ok(alerts)
    } else {
        Err(Value::Object(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(breach: &str) -> Value {
        json!({"user_id":"1","breach_id":breach,"title":"T","severity":"low","confidence":1})
    }

    #[test]
    fn a_valid_batch_parses_in_order() {
        let alerts = parse_batch(&json!({"alerts":[item("A"), item("B")]}), Utc::now()).unwrap();
        let ids: Vec<_> = alerts
            .into_iter()
            .map(|a| a.breach_id.into_inner())
            .collect();
        assert_eq!(ids, ["A", "B"]);
    }

    #[test]
    fn the_body_shape_is_checked_before_the_items() {
        let now = Utc::now();
        assert_eq!(
            parse_batch(&json!([item("A")]), now).unwrap_err(),
            json!({"body":"must be a JSON object with \"alerts\""})
        );
        assert_eq!(
            parse_batch(&json!({"alerts":[item("A")],"extra":1}), now).unwrap_err(),
            json!({"extra":"unknown field"})
        );
        for alerts in [json!([]), json!({}), json!(null)] {
            assert_eq!(
                parse_batch(&json!({ "alerts": alerts }), now).unwrap_err(),
                json!({"alerts":"must be an array of 1-1000 alerts"})
            );
        }
        assert!(
            parse_batch(&json!({}), now)
                .unwrap_err()
                .get("alerts")
                .is_some()
        );
        let many = vec![item("A"); BATCH_MAX + 1];
        assert!(parse_batch(&json!({ "alerts": many }), now).is_err());
    }

    #[test]
    fn bad_items_are_named_by_index() {
        let bad = json!({"alerts":[item("A"), {"title":""}, item("C"), 7]});
        let details = parse_batch(&bad, Utc::now()).unwrap_err();
        let keys: Vec<_> = details.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["1", "3"]);
        assert_eq!(details["1"]["title"], "must be 1-200 characters");
        assert_eq!(details["3"]["body"], "must be a JSON object");
    }
}
