//! What a push service's answer means (contract §6): delivered, gone (404,
//! 410: the subscription is deleted), worth retrying (429, 5xx, no answer
//! in time: with backoff, honouring `Retry-After`), or refused for good
//! (any other 4xx: counted and logged, not retried).

use std::time::Duration;

/// The first retry waits this long; each next one twice as long.
const FIRST_BACKOFF: Duration = Duration::from_secs(2);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Delivered,
    Gone,
    /// Try again, after at least this long if the service said so.
    Retry(Option<Duration>),
    Refused(u16),
}

impl Answer {
    /// `status` with the `Retry-After` header's value, if any.
    pub fn of(status: u16, retry_after: Option<&str>) -> Self {
        match status {
            200..=299 => Self::Delivered,
            404 | 410 => Self::Gone,
            429 | 500..=599 => Self::Retry(retry_after.and_then(parse_retry_after)),
            _ => Self::Refused(status),
        }
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// How long to wait before attempt `attempts + 1`: exponential backoff,
/// or longer if the service asked for it.
pub fn retry_delay(attempts: i32, asked: Option<Duration>) -> Duration {
    let exp = FIRST_BACKOFF.saturating_mul(1u32 << attempts.clamp(0, 20));
    let backoff = exp.min(MAX_BACKOFF);
    match asked {
        Some(asked) => asked,
        None => backoff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_as_the_contract_says() {
        assert_eq!(Answer::of(201, None), Answer::Delivered);
        assert_eq!(Answer::of(410, None), Answer::Gone);
        assert_eq!(Answer::of(404, None), Answer::Gone);
        assert_eq!(
            Answer::of(503, Some("3")),
            Answer::Retry(Some(Duration::from_secs(3)))
        );
        assert_eq!(Answer::of(429, None), Answer::Retry(None));
        assert_eq!(Answer::of(400, None), Answer::Refused(400));
        assert_eq!(Answer::of(413, Some("5")), Answer::Refused(413));
    }

    #[test]
    fn backoff_doubles_and_retry_after_wins() {
        assert_eq!(retry_delay(0, None), Duration::from_secs(2));
        assert_eq!(retry_delay(3, None), Duration::from_secs(16));
        assert_eq!(retry_delay(40, None), MAX_BACKOFF);
        assert_eq!(
            retry_delay(5, Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
    }
}
