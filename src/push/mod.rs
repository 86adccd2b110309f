//! Web Push (contract §6) without I/O: the VAPID key and its signature
//! (RFC 8292), the encrypted message for one subscription (RFC 8291, by
//! `web-push-native`; no crypto is written here), and what a push
//! service's answer means. The push actor (`actors::push`) sends the
//! messages with the HTTP client and keeps the schedule in storage.

pub mod message;
pub mod outcome;
pub mod vapid;

pub use message::{PushMessage, build_message, payload};
pub use outcome::{Answer, retry_delay};
pub use vapid::{VapidError, VapidKey};
