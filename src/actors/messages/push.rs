//! The messages of Web Push (contract §6): what the HTTP handlers and the
//! push actor ask of storage (`DbActor`).

use actix::prelude::*;
use chrono::NaiveDateTime;

use crate::models::UserId;
use crate::models::push::{NewSubscription, SubscriptionRow};
use crate::storage::{PushJob, PushOutcome, StorageError};

/// Stores a browser's subscription; `true` when it is new; `None` when
/// the user has as many as allowed already.
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<(SubscriptionRow, bool)>, StorageError>")]
pub struct CreateSubscription {
    pub user: UserId,
    pub subscription: NewSubscription,
}

/// A user's subscriptions.
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<SubscriptionRow>, StorageError>")]
pub struct ListSubscriptions(pub UserId);

/// Deletes one of the user's subscriptions; `false` if there is none.
#[derive(Debug, Message)]
#[rtype(result = "Result<bool, StorageError>")]
pub struct DeleteSubscription {
    pub user: UserId,
    pub id: i64,
}

/// Claims due alerts for this node until `lease_until`; answers them and
/// when the next alert becomes claimable (`next_push_due`).
#[derive(Debug, Message)]
#[rtype(result = "Result<(Vec<PushJob>, Option<NaiveDateTime>), StorageError>")]
pub struct ClaimDuePushes {
    pub node: String,
    pub now: NaiveDateTime,
    pub lease_until: NaiveDateTime,
    pub limit: i64,
}

/// Records what became of alerts this node claimed.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), StorageError>")]
pub struct RecordPushOutcomes {
    pub node: String,
    pub outcomes: Vec<PushOutcome>,
}

/// What the push actor asks of storage.
#[derive(Clone)]
pub struct PushStorage {
    pub claim: Recipient<ClaimDuePushes>,
    pub record: Recipient<RecordPushOutcomes>,
}

/// What `/health` shows of Web Push (`checks.push`), kept by the push actor.
#[derive(Debug)]
pub struct PushHealth {
    /// Unix milliseconds of the last poll that reached storage (at first:
    /// when the actor was created, so a node just started reports "ok").
    last_poll_ok_ms: std::sync::atomic::AtomicI64,
}

impl PushHealth {
    pub fn new(now_ms: i64) -> Self {
        Self {
            last_poll_ok_ms: now_ms.into(),
        }
    }

    pub fn poll_succeeded(&self, now_ms: i64) {
        self.last_poll_ok_ms
            .store(now_ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether a poll reached storage within `within_ms` of `now_ms`.
    pub fn is_polling(&self, now_ms: i64, within_ms: i64) -> bool {
        let last = self
            .last_poll_ok_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        now_ms - last <= within_ms
    }
}
