//! The bodies of `POST /api/v1/alerts` and `POST /api/v1/alerts/batch`, as
//! the handlers parse them: `serde_json::from_slice`, then
//! `NewAlert::parse` or `parse_batch`, on the same bytes.
//!
//! Checks, beyond "does not panic":
//! - an accepted alert keeps every limit of contract §2, is what was sent,
//!   and survives the row → view → wire trip (`alerthub_fuzz::check_accepted`),
//!   with no NUL in any field once the library refuses NUL;
//! - a refusal names only real fields;
//! - the batch parser agrees with the single parser: a batch is accepted
//!   exactly when its shape is right and every item is, its alerts are the
//!   items' alerts in order, and its `details` name exactly the bad items.
#![no_main]

use alerthub::models::{BATCH_MAX, NewAlert, parse_batch};
use alerthub_fuzz::{check_accepted, check_refused, now};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let now = now();

    // The single trigger.
    let single = NewAlert::parse(&body, now);
    match &single {
        Ok(alert) => check_accepted(alert, &body),
        Err(errors) => check_refused(errors, &body),
    }

    // The same value as the one item of a batch: same verdict.
    let wrapped = json!({ "alerts": [body.clone()] });
    match (parse_batch(&wrapped, now), &single) {
        (Ok(alerts), Ok(alert)) => {
            assert_eq!(alerts.len(), 1);
            assert_eq!(format!("{:?}", alerts[0]), format!("{alert:?}"));
        }
        (Err(details), Err(errors)) => assert_eq!(details, json!({ "0": errors })),
        (batch, single) => panic!("batch says {batch:?}, single says {single:?}"),
    }

    // The value as a whole batch body.
    let batch = parse_batch(&body, now);
    let items = body
        .as_object()
        .filter(|o| o.keys().all(|k| k == "alerts"))
        .and_then(|o| o.get("alerts"))
        .and_then(Value::as_array)
        .filter(|a| (1..=BATCH_MAX).contains(&a.len()));
    match (batch, items) {
        (Ok(_), None) => panic!("accepted a batch of the wrong shape: {body}"),
        (Err(details), None) => {
            let details = details.as_object().expect("details is not an object");
            assert_eq!(details.len(), 1, "one shape error at a time: {details:?}");
        }
        (result, Some(items)) => {
            let singles: Vec<_> = items.iter().map(|i| NewAlert::parse(i, now)).collect();
            match result {
                Ok(alerts) => {
                    assert_eq!(alerts.len(), items.len());
                    for ((alert, single), item) in alerts.iter().zip(&singles).zip(items) {
                        let single = single.as_ref().expect("accepted a bad item");
                        assert_eq!(format!("{alert:?}"), format!("{single:?}"));
                        check_accepted(alert, item);
                    }
                }
                Err(details) => {
                    let mut named: Vec<&str> = details
                        .as_object()
                        .expect("details is not an object")
                        .keys()
                        .map(String::as_str)
                        .collect();
                    named.sort();
                    let mut bad: Vec<String> = singles
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.is_err())
                        .map(|(i, _)| i.to_string())
                        .collect();
                    bad.sort();
                    assert_eq!(named, bad, "details name other items than the bad ones");
                }
            }
        }
    }
});
