//! One push message: the payload of §6 (`full` or `minimal`), encrypted for
//! one subscription (RFC 8291 `aes128gcm`, by `web-push-native`), with the
//! headers of §6 (`TTL`, `Urgency`, `Topic`) and the VAPID signature.

use std::time::Duration;

use serde_json::json;
use web_push_native::{Auth, WebPushBuilder, p256};

use super::vapid::{VapidError, VapidKey};
use crate::models::push::{PushPayload, SubscriptionRow, decode_b64url};
use crate::models::{AlertRow, AlertView};

/// A request ready for the HTTP client.
#[derive(Debug, Clone)]
pub struct PushMessage {
    pub endpoint: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// Storage holds only checked keys; this means the row was altered.
    #[error("the subscription's keys are not valid")]
    BadKeys,
    #[error("the subscription's endpoint is not a URL")]
    BadEndpoint,
    #[error("cannot encrypt: {0}")]
    Encrypt(String),
    #[error(transparent)]
    Vapid(#[from] VapidError),
}

/// The decrypted body a browser's service worker receives.
pub fn payload(alert: &AlertRow, mode: PushPayload) -> Vec<u8> {
    let value = match mode {
        PushPayload::Full => json!({"type": "breach_alert", "alert": AlertView::from(alert)}),
        PushPayload::Minimal => json!({
            "type": "breach_alert",
            "alert_id": alert.id,
            "severity": alert.severity,
        }),
    };
    value.to_string().into_bytes()
}

/// `scheme://host[:port]`: the VAPID `aud` of an endpoint.
fn origin(uri: &http::Uri) -> Option<String> {
    let scheme = uri.scheme_str()?;
    let host = uri.host()?;
    Some(match uri.port_u16() {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

/// The encrypted, signed request that carries `body` to `sub`.
pub fn build_message(
    sub: &SubscriptionRow,
    alert: &AlertRow,
    body: Vec<u8>,
    ttl: Duration,
    vapid: &VapidKey,
    now_secs: u64,
) -> Result<PushMessage, MessageError> {
    let uri: http::Uri = sub
        .endpoint
        .parse()
        .map_err(|_| MessageError::BadEndpoint)?;
    let aud = origin(&uri).ok_or(MessageError::BadEndpoint)?;
    let point = decode_b64url(&sub.p256dh).ok_or(MessageError::BadKeys)?;
    let public = p256::PublicKey::from_sec1_bytes(&point).map_err(|_| MessageError::BadKeys)?;
    let auth = decode_b64url(&sub.auth)
        .filter(|a| a.len() == 16)
        .ok_or(MessageError::BadKeys)?;
    let request = WebPushBuilder::new(uri, public, Auth::clone_from_slice(&auth))
        .with_valid_duration(ttl)
        .build(body)
        .map_err(|e| MessageError::Encrypt(e.to_string()))?;
    let mut headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let urgency = match alert.severity.as_str() {
        "HIGH" | "CRITICAL" => "high",
        _ => "normal",
    };
    headers.push(("Urgency".into(), urgency.into()));
    // A newer message with the same topic replaces an undelivered one.
    headers.push(("Topic".into(), alert.id.to_string()));
    headers.push(("Authorization".into(), vapid.authorization(&aud, now_secs)?));
    Ok(PushMessage {
        endpoint: sub.endpoint.clone(),
        headers,
        body: request.into_body(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audience_is_the_origin_with_its_port() {
        let o = |s: &str| origin(&s.parse().unwrap()).unwrap();
        assert_eq!(
            o("https://fcm.googleapis.com/fcm/send/x"),
            "https://fcm.googleapis.com"
        );
        assert_eq!(o("http://127.0.0.1:8123/p/1"), "http://127.0.0.1:8123");
    }
}
