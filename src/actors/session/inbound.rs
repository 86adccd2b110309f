//! What a session makes of each frame its peer sends: a client message to
//! act on, an error to answer (rate limited, unparsable), a ping, the
//! peer's close — or a violation of the rules that closes the session
//! (binary or fragmented frames, invalid UTF-8, oversized frames).

use std::num::NonZeroU32;
use std::time::Instant;

use actix_http::ws::{Frame, ProtocolError};
use bytes::Bytes;

use governor::clock::MonotonicClock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use crate::config::Limits;
use crate::protocol::{ClientMessage, Close, ErrorCode, frames};

#[derive(Debug)]
pub enum Inbound {
    Message(ClientMessage),
    /// Answer with this `error` frame; the session stays open.
    Refuse(String),
    /// A WebSocket Ping: answer with a Pong carrying its payload.
    Ping(Bytes),
    /// A Pong, or anything else that needs no answer.
    Nothing,
    /// The peer closed, with this code (1000 when it gave none).
    PeerClosed(u16),
    /// The peer broke a rule: close with this.
    Violation(Close),
    /// The connection failed.
    Broken,
}

/// The per-session state of reading: the client message rate limit.
///
/// Its clock is `std::time::Instant` (`MonotonicClock`, no state), not
/// governor's default `quanta` clock: creating a quanta clock runs CPUID,
/// which a virtual machine traps, once per session — a visible share of a
/// reconnect storm's CPU (issue 15) — and it is 40 bytes per session more.
pub struct Inbox {
    limiter: RateLimiter<NotKeyed, InMemoryState, MonotonicClock, NoOpMiddleware<Instant>>,
}

impl Inbox {
    pub fn new(limits: &Limits) -> Self {
        let rate = NonZeroU32::new(limits.messages_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limits.message_burst).unwrap_or(rate);
        Self {
            limiter: RateLimiter::direct_with_clock(
                Quota::per_second(rate).allow_burst(burst),
                MonotonicClock,
            ),
        }
    }

    /// Classifies one item of the reader. `rate_limited` is told when a
    /// message was dropped for the rate.
    pub fn read(
        &mut self,
        item: Result<Frame, ProtocolError>,
        rate_limited: impl FnOnce(),
    ) -> Inbound {
        let frame = match item {
            Ok(frame) => frame,
            Err(ProtocolError::Overflow) => return Inbound::Violation(Close::TooLarge),
            Err(ProtocolError::Io(_)) => return Inbound::Broken,
            Err(_) => return Inbound::Violation(Close::Protocol),
        };
        match frame {
            Frame::Text(bytes) => {
                let Ok(text) = std::str::from_utf8(&bytes) else {
                    return Inbound::Violation(Close::InvalidUtf8);
                };
                if self.limiter.check().is_err() {
                    rate_limited();
                    return Inbound::Refuse(frames::error(
                        ErrorCode::RateLimited,
                        "too many messages; this one was dropped",
                    ));
                }
                match ClientMessage::parse(text) {
                    Ok(message) => Inbound::Message(message),
                    Err(e) => Inbound::Refuse(frames::error(e.code, &e.message)),
                }
            }
            Frame::Ping(payload) => Inbound::Ping(payload),
            Frame::Pong(_) => Inbound::Nothing,
            Frame::Binary(_) => Inbound::Violation(Close::Binary),
            Frame::Continuation(_) => Inbound::Violation(Close::Fragmented),
            Frame::Close(reason) => Inbound::PeerClosed(reason.map_or(1000, |r| r.code.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inbox(burst: u32) -> Inbox {
        let limits = Limits {
            messages_per_second: 1,
            message_burst: burst,
            ..Limits::default()
        };
        Inbox::new(&limits)
    }

    #[test]
    fn frames_are_classified() {
        let mut inbox = inbox(10);
        let text = |s: &'static str| Ok(Frame::Text(Bytes::from_static(s.as_bytes())));
        assert!(matches!(
            inbox.read(text(r#"{"type":"mark_all_read"}"#), || {}),
            Inbound::Message(ClientMessage::MarkAllRead)
        ));
        assert!(
            matches!(inbox.read(text("{"), || {}), Inbound::Refuse(e) if e.contains("invalid_json"))
        );
        assert!(matches!(
            inbox.read(Ok(Frame::Text(Bytes::from_static(&[0xff]))), || {}),
            Inbound::Violation(Close::InvalidUtf8)
        ));
        assert!(matches!(
            inbox.read(Ok(Frame::Binary(Bytes::new())), || {}),
            Inbound::Violation(Close::Binary)
        ));
        assert!(matches!(
            inbox.read(Err(ProtocolError::Overflow), || {}),
            Inbound::Violation(Close::TooLarge)
        ));
        assert!(matches!(
            inbox.read(Ok(Frame::Close(None)), || {}),
            Inbound::PeerClosed(1000)
        ));
    }

    #[test]
    fn messages_over_the_rate_are_refused_and_counted() {
        let mut inbox = inbox(2);
        let mut dropped = 0;
        for _ in 0..5 {
            let item = Ok(Frame::Text(Bytes::from_static(br#"{"type":"ping"}"#)));
            inbox.read(item, || dropped += 1);
        }
        assert_eq!(dropped, 3);
    }
}
