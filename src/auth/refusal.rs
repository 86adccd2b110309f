//! Why a credential was refused, and the one log line that records it.
//!
//! Clients are told only `authentication failed` (or `user mismatch`): the
//! detail would help an attacker more than a user. Operators need it, so
//! every refused login — a REST 401 or a refused WebSocket handshake — is
//! logged once, at INFO, with the reason and the peer address, through
//! `log_refusal`. The line never holds the credential or any part of it:
//! `log_refusal` takes nothing but the address, a fixed name of the door
//! that was knocked on, and the reason.

use std::fmt;
use std::net::SocketAddr;

/// Why a credential did not authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No credential at all.
    Missing,
    /// Not a JWT we can read (header, base64, JSON), or a claim of the wrong type.
    Malformed,
    /// A JWT signed with an algorithm that is not configured (`none`, HS512, …).
    Algorithm,
    /// A JWT whose signature does not verify with the configured key.
    BadSignature,
    /// A JWT past its `exp`.
    Expired,
    /// A JWT before its `nbf`.
    NotYetValid,
    /// A JWT without `exp` or without a valid user claim.
    MissingClaim,
    /// A JWT whose `token_type` is not `access` (a refresh token).
    NotAccessToken,
    /// An opaque token that is unknown or revoked (or a wrong service key).
    UnknownToken,
    /// A valid credential of another user than the one named in the path.
    UserMismatch,
    /// A JWT issued before its user signed out everywhere (contract §5).
    SignedOut,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "no credential",
            Self::Malformed => "malformed",
            Self::Algorithm => "algorithm not accepted",
            Self::BadSignature => "bad signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not yet valid",
            Self::MissingClaim => "missing claim",
            Self::NotAccessToken => "not an access token",
            Self::UnknownToken => "unknown token",
            Self::UserMismatch => "user mismatch",
            Self::SignedOut => "issued before a sign-out",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the refused credential was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// The WebSocket handshake.
    WebSocket,
    /// A user endpoint of the REST API.
    Rest,
    /// The trigger endpoints (service keys).
    Trigger,
}

impl Door {
    fn as_str(self) -> &'static str {
        match self {
            Self::WebSocket => "WebSocket handshake",
            Self::Rest => "REST request",
            Self::Trigger => "trigger request",
        }
    }
}

/// The line `log_refusal` writes (separate so that tests can read it).
pub fn refusal_line(peer: Option<SocketAddr>, door: Door, reason: Refusal) -> String {
    let peer = peer.map_or_else(|| "an unknown address".to_owned(), |p| p.to_string());
    format!("login refused: {reason} ({} from {peer})", door.as_str())
}

/// Logs one refused login at INFO. Call it once per refused request.
pub fn log_refusal(peer: Option<SocketAddr>, door: Door, reason: Refusal) {
    log::info!(target: "alerthub::auth", "{}", refusal_line(peer, door, reason));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_reason_door_and_peer() {
        let peer = "203.0.113.7:51234".parse().ok();
        assert_eq!(
            refusal_line(peer, Door::WebSocket, Refusal::Expired),
            "login refused: expired (WebSocket handshake from 203.0.113.7:51234)"
        );
        assert_eq!(
            refusal_line(None, Door::Rest, Refusal::UnknownToken),
            "login refused: unknown token (REST request from an unknown address)"
        );
    }
}
