//! Web Push (contract §6) as data: when an alert is due for a push, what a
//! browser's `PushSubscription.toJSON()` must look like to be accepted, and
//! a subscription as stored. Parsing lives here, with the other input
//! types, so the HTTP handler only maps errors and storage only stores
//! what already passed.

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;

use super::domain::Severity;
use super::new_alert::FieldErrors;
use super::schema::push_subscriptions;

/// Longest endpoint URL accepted (real push services use ~200 bytes).
pub const MAX_ENDPOINT_LEN: usize = 2048;

/// When alerts become due for a push: `delay` after they are stored, if
/// their severity is at least `min_severity`.
#[derive(Debug, Clone, Copy)]
pub struct PushSchedule {
    pub delay: Duration,
    pub min_severity: Severity,
}

impl PushSchedule {
    /// The due time of an alert of `severity` stored at `created`; `None`
    /// below the minimum severity (never pushed).
    pub fn due_at(&self, severity: Severity, created: DateTime<Utc>) -> Option<NaiveDateTime> {
        if severity < self.min_severity {
            return None;
        }
        let delay = chrono::Duration::from_std(self.delay).unwrap_or(chrono::Duration::MAX);
        Some(
            created
                .naive_utc()
                .checked_add_signed(delay)
                .unwrap_or(NaiveDateTime::MAX),
        )
    }
}

/// What the decrypted push message carries (`ALERTHUB_PUSH_PAYLOAD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushPayload {
    /// The alert as in `breach_alert.message`.
    Full,
    /// Only the alert's id and severity: no breach details leave for the
    /// push service.
    Minimal,
}

/// A subscription a browser asked for, checked.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub endpoint: String,
    /// The browser's P-256 key (uncompressed point), base64url without padding.
    pub p256dh: String,
    /// The 16-byte authentication secret, base64url without padding.
    pub auth: String,
}

/// Decodes base64url with or without padding (browsers send it without).
pub fn decode_b64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(s)
        .or_else(|_| URL_SAFE.decode(s))
        .ok()
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn check_endpoint(raw: &str, allow_insecure: bool) -> Result<(), &'static str> {
    if raw.len() > MAX_ENDPOINT_LEN {
        return Err("must be at most 2048 characters");
    }
    let uri: http::Uri = raw.parse().map_err(|_| "must be an absolute URL")?;
    let host = uri.host().ok_or("must be an absolute URL")?;
    // Push services are named by host; an address literal could aim the
    // server's requests at its own network.
    let literal = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok();
    if literal && !(allow_insecure && is_loopback(host)) {
        return Err("must name a push service by host name, not an IP address");
    }
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if allow_insecure && is_loopback(host) => Ok(()),
        Some("http") if is_loopback(host) => {
            Err("must be https:// (http:// to loopback needs ALERTHUB_PUSH_ALLOW_INSECURE=1)")
        }
        _ => Err("must be an https:// URL"),
    }
}

impl NewSubscription {
    /// `PushSubscription.toJSON()`: `{"endpoint", "keys": {"p256dh", "auth"}}`
    /// (other members, such as `expirationTime`, are ignored). Every bad
    /// field is named.
    pub fn parse(body: &Value, allow_insecure: bool) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        let endpoint = text(body.get("endpoint"));
        let keys = body.get("keys");
        let p256dh = text(keys.and_then(|k| k.get("p256dh")));
        let auth = text(keys.and_then(|k| k.get("auth")));
        match &endpoint {
            None => {
                errors.insert("endpoint".into(), "is required (a string)".into());
            }
            Some(e) => {
                if let Err(why) = check_endpoint(e, allow_insecure) {
                    errors.insert("endpoint".into(), why.into());
                }
            }
        }
        let point = p256dh.as_deref().and_then(decode_b64url);
        let valid_point = point.as_deref().is_some_and(|p| {
            p.len() == 65 && web_push_native::p256::PublicKey::from_sec1_bytes(p).is_ok()
        });
        if !valid_point {
            errors.insert(
                "keys.p256dh".into(),
                "must be base64url of an uncompressed P-256 point".into(),
            );
        }
        let secret = auth.as_deref().and_then(decode_b64url);
        if secret.as_ref().is_none_or(|s| s.len() != 16) {
            errors.insert("keys.auth".into(), "must be base64url of 16 bytes".into());
        }
        match (endpoint, point, secret) {
            (Some(endpoint), Some(point), Some(secret)) if errors.is_empty() => Ok(Self {
                endpoint,
                p256dh: URL_SAFE_NO_PAD.encode(point),
                auth: URL_SAFE_NO_PAD.encode(secret),
            }),
            _ => Err(errors),
        }
    }
}

/// A stored subscription.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = push_subscriptions)]
pub struct SubscriptionRow {
    pub id: i64,
    pub user_id: String,
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
    pub created_at: NaiveDateTime,
}

/// A subscription as the API shows it (never its keys).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubscriptionView {
    pub id: i64,
    pub endpoint: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// The body of `POST /api/v1/push/subscriptions` as the OpenAPI document
/// describes it: the browser's `PushSubscription.toJSON()`.
/// `NewSubscription::parse` reads the JSON itself (naming every bad field);
/// this type only gives the document a schema.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[schema(as = PushSubscriptionJson)]
pub struct SubscriptionRequest {
    /// The push service's URL: `https://` (`http://` only on loopback with
    /// `ALERTHUB_PUSH_ALLOW_INSECURE=1`); a host name, not an IP address.
    pub endpoint: String,
    pub keys: SubscriptionKeys,
}

/// The browser's keys for one subscription, base64url.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct SubscriptionKeys {
    /// An uncompressed P-256 point (65 bytes).
    pub p256dh: String,
    /// The 16-byte authentication secret.
    pub auth: String,
}

impl From<&SubscriptionRow> for SubscriptionView {
    fn from(row: &SubscriptionRow) -> Self {
        Self {
            id: row.id,
            endpoint: row.endpoint.clone(),
            created_at: super::time::format_timestamp(row.created_at.and_utc()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const P256DH: &str =
        "BLn9b-VR0ca83knDNZ32dCHGyjJp-1riX9ZTN40MqV8K_LpQmLqxC_DoHvqvFXO_nGdAB4W9dogZb_sM-uV4JbY";
    const AUTH: &str = "_ordMnz7uTCmrpBTeUV4Bw";

    fn body(endpoint: &str, p256dh: &str, auth: &str) -> Value {
        json!({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}})
    }

    #[test]
    fn a_browser_subscription_is_accepted() {
        let s =
            NewSubscription::parse(&body("https://push.example/x", P256DH, AUTH), false).unwrap();
        assert_eq!(s.p256dh, P256DH);
        assert_eq!(s.auth, AUTH);
    }

    #[test]
    fn plain_http_only_to_loopback_and_only_when_allowed() {
        let local = body("http://127.0.0.1:9/p", P256DH, AUTH);
        assert!(NewSubscription::parse(&local, true).is_ok());
        assert!(
            NewSubscription::parse(&local, false)
                .unwrap_err()
                .contains_key("endpoint")
        );
        let remote = body("http://push.example/p", P256DH, AUTH);
        assert!(
            NewSubscription::parse(&remote, true)
                .unwrap_err()
                .contains_key("endpoint")
        );
        let literal = body("https://10.0.0.1/p", P256DH, AUTH);
        assert!(
            NewSubscription::parse(&literal, true)
                .unwrap_err()
                .contains_key("endpoint")
        );
        let relative = body("/p", P256DH, AUTH);
        assert!(NewSubscription::parse(&relative, true).is_err());
    }

    #[test]
    fn bad_keys_are_named() {
        let e =
            NewSubscription::parse(&body("https://p.example/", "AAAA", "AAAA"), false).unwrap_err();
        assert!(
            e.contains_key("keys.p256dh") && e.contains_key("keys.auth"),
            "{e:?}"
        );
        let e = NewSubscription::parse(&json!({}), false).unwrap_err();
        assert_eq!(e.len(), 3, "{e:?}");
    }

    #[test]
    fn below_the_minimum_severity_is_never_due() {
        let s = PushSchedule {
            delay: Duration::from_secs(30),
            min_severity: Severity::High,
        };
        let now = Utc::now();
        assert_eq!(s.due_at(Severity::Medium, now), None);
        let due = s.due_at(Severity::Critical, now).unwrap();
        assert_eq!((due - now.naive_utc()).num_seconds(), 30);
    }
}
