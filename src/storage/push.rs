//! Web Push in storage (contract §6): the browsers' subscriptions, and the
//! push schedule kept in the alert rows — so that exactly one node of a
//! cluster sends an alert, and a node that dies leaves it to another.
//!
//! An alert is stored with `push_due_at` already set (the writer computes
//! it in the same INSERT). A node *claims* due alerts with one conditional
//! UPDATE (`… WHERE unclaimed OR lease expired`): two nodes racing for a row
//! cannot both win it, on SQLite (one writer) nor on PostgreSQL (the loser
//! re-checks the condition on the row the winner committed). What each
//! subscription got is recorded in `push_deliveries`, so a retry or a
//! takeover skips it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::connection::{AnyConnection, StorageError, on_backend};
use crate::models::AlertRow;
use crate::models::push::{NewSubscription, SubscriptionRow};
use crate::models::schema::{alerts, push_deliveries, push_subscriptions};

/// Due alerts without a subscriber (or already read) settled per poll.
const SETTLE_MAX: i64 = 1000;

/// Subscriptions one user may hold: each alert is sent to every one, so
/// the cap bounds what one alert costs (a browser profile needs one).
pub const MAX_SUBSCRIPTIONS_PER_USER: i64 = 20;

/// One claimed alert and the subscriptions it has still to reach.
#[derive(Debug, Clone)]
pub struct PushJob {
    pub alert: AlertRow,
    /// Attempts before this one (for the retry backoff).
    pub attempts: i32,
    pub targets: Vec<SubscriptionRow>,
}

/// What became of one claimed alert.
#[derive(Debug, Clone, Default)]
pub struct PushOutcome {
    pub alert_id: i64,
    /// Subscriptions that accepted the message.
    pub sent: Vec<i64>,
    /// Subscriptions that refused it for good (4xx other than 404/410).
    pub failed: Vec<i64>,
    /// Subscriptions the push service no longer knows (404/410): deleted.
    pub gone: Vec<i64>,
    /// Some subscriptions should be tried again at this time; `None`:
    /// the alert is done.
    pub retry_at: Option<NaiveDateTime>,
}

/// Stores a subscription for `user`; `true` if it is new; `None` if the
/// user already has `MAX_SUBSCRIPTIONS_PER_USER` others. The same endpoint
/// again keeps its row (with the keys the browser sent now); an endpoint
/// another user had subscribed moves to this user.
pub fn create_subscription(
    conn: &mut AnyConnection,
    user: &str,
    sub: &NewSubscription,
    now: NaiveDateTime,
) -> Result<Option<(SubscriptionRow, bool)>, StorageError> {
    let result = on_backend!(conn, |c| c.transaction(|c| {
        let others: i64 = push_subscriptions::table
            .filter(push_subscriptions::user_id.eq(user))
            .filter(push_subscriptions::endpoint.ne(&sub.endpoint))
            .count()
            .get_result(c)?;
        if others >= MAX_SUBSCRIPTIONS_PER_USER {
            return Ok(None);
        }
        diesel::delete(push_subscriptions::table)
            .filter(push_subscriptions::endpoint.eq(&sub.endpoint))
            .filter(push_subscriptions::user_id.ne(user))
            .execute(c)?;
        let inserted = diesel::insert_into(push_subscriptions::table)
            .values((
                push_subscriptions::user_id.eq(user),
                push_subscriptions::endpoint.eq(&sub.endpoint),
                push_subscriptions::p256dh.eq(&sub.p256dh),
                push_subscriptions::auth.eq(&sub.auth),
                push_subscriptions::created_at.eq(now),
            ))
            .on_conflict(push_subscriptions::endpoint)
            .do_nothing()
            .returning(SubscriptionRow::as_returning())
            .get_result(c)
            .optional()?;
        match inserted {
            Some(row) => Ok(Some((row, true))),
            None => diesel::update(push_subscriptions::table)
                .filter(push_subscriptions::endpoint.eq(&sub.endpoint))
                .set((
                    push_subscriptions::p256dh.eq(&sub.p256dh),
                    push_subscriptions::auth.eq(&sub.auth),
                ))
                .returning(SubscriptionRow::as_returning())
                .get_result(c)
                .map(|row| Some((row, false))),
        }
    }))?;
    Ok(result)
}

/// A user's subscriptions, oldest first.
pub fn list_subscriptions(
    conn: &mut AnyConnection,
    user: &str,
) -> Result<Vec<SubscriptionRow>, StorageError> {
    let rows = on_backend!(conn, |c| push_subscriptions::table
        .filter(push_subscriptions::user_id.eq(user))
        .order(push_subscriptions::id.asc())
        .select(SubscriptionRow::as_select())
        .load(c))?;
    Ok(rows)
}

/// Deletes one of the user's subscriptions; `false` if the user has no
/// such subscription (another user's looks exactly like an unknown one).
pub fn delete_subscription(
    conn: &mut AnyConnection,
    user: &str,
    id: i64,
) -> Result<bool, StorageError> {
    let n = on_backend!(conn, |c| c.transaction(|c| {
        let n = diesel::delete(push_subscriptions::table)
            .filter(push_subscriptions::id.eq(id))
            .filter(push_subscriptions::user_id.eq(user))
            .execute(c)?;
        if n > 0 {
            diesel::delete(push_deliveries::table)
                .filter(push_deliveries::subscription_id.eq(id))
                .execute(c)?;
        }
        Ok::<_, diesel::result::Error>(n)
    }))?;
    Ok(n > 0)
}

/// Due alerts that will never be pushed are settled in bulk: read before
/// they were due, or their user has no subscription.
macro_rules! settle_unpushable {
    ($c:expr, $now:expr) => {{
        let settled: Vec<i64> = alerts::table
            .filter(alerts::push_due_at.le($now))
            .filter(
                alerts::read
                    .eq(true)
                    .or(diesel::dsl::not(diesel::dsl::exists(
                        push_subscriptions::table
                            .filter(push_subscriptions::user_id.eq(alerts::user_id)),
                    ))),
            )
            .select(alerts::id)
            .limit(SETTLE_MAX)
            .load($c)?;
        diesel::delete(push_deliveries::table)
            .filter(push_deliveries::alert_id.eq_any(&settled))
            .execute($c)?;
        diesel::update(alerts::table)
            .filter(alerts::id.eq_any(&settled))
            .set((
                alerts::push_due_at.eq(None::<NaiveDateTime>),
                alerts::push_claimed_by.eq(None::<String>),
                alerts::push_claimed_until.eq(None::<NaiveDateTime>),
            ))
            .execute($c)
    }};
}

/// Claims up to `limit` due, unread alerts for `node` until `lease_until`,
/// with the subscriptions each has still to reach.
pub fn claim_due_pushes(
    conn: &mut AnyConnection,
    node: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<PushJob>, StorageError> {
    let claimed: Vec<(AlertRow, i32)> = on_backend!(conn, |c| {
        settle_unpushable!(c, now)?;
        let claimable = || {
            alerts::push_due_at.le(now).and(alerts::read.eq(false)).and(
                alerts::push_claimed_until
                    .is_null()
                    .or(alerts::push_claimed_until.lt(now)),
            )
        };
        let due: Vec<i64> = alerts::table
            .filter(claimable())
            .order(alerts::push_due_at.asc())
            .select(alerts::id)
            .limit(limit)
            .load(c)?;
        // The condition again on the UPDATE: a row another node claimed
        // since the SELECT is skipped (on PostgreSQL the UPDATE waits for
        // that node's commit and re-checks the row it committed).
        diesel::update(alerts::table)
            .filter(alerts::id.eq_any(&due))
            .filter(claimable())
            .set((
                alerts::push_claimed_by.eq(node),
                alerts::push_claimed_until.eq(lease_until),
            ))
            .returning((AlertRow::as_returning(), alerts::push_attempts))
            .get_results(c)
    })?;
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let users: Vec<&str> = claimed.iter().map(|(a, _)| a.user_id.as_str()).collect();
    let ids: Vec<i64> = claimed.iter().map(|(a, _)| a.id).collect();
    let (subscriptions, done): (Vec<SubscriptionRow>, Vec<(i64, i64)>) = on_backend!(conn, |c| {
        let subs = push_subscriptions::table
            .filter(push_subscriptions::user_id.eq_any(&users))
            .order(push_subscriptions::id.asc())
            .select(SubscriptionRow::as_select())
            .load(c)?;
        let done = push_deliveries::table
            .filter(push_deliveries::alert_id.eq_any(&ids))
            .select((push_deliveries::alert_id, push_deliveries::subscription_id))
            .load(c)?;
        Ok::<_, diesel::result::Error>((subs, done))
    })?;
    Ok(claimed
        .into_iter()
        .map(|(alert, attempts)| {
            let targets = subscriptions
                .iter()
                .filter(|s| s.user_id == alert.user_id && !done.contains(&(alert.id, s.id)))
                .cloned()
                .collect();
            PushJob {
                alert,
                attempts,
                targets,
            }
        })
        .collect())
}

/// Records what became of claimed alerts, in one transaction: deliveries,
/// subscriptions that are gone, and each alert done or due again. Only
/// claims `node` still holds are changed.
pub fn record_push_outcomes(
    conn: &mut AnyConnection,
    node: &str,
    outcomes: &[PushOutcome],
) -> Result<(), StorageError> {
    on_backend!(conn, |c| c.transaction(|c| {
        for o in outcomes {
            if !o.gone.is_empty() {
                diesel::delete(push_subscriptions::table)
                    .filter(push_subscriptions::id.eq_any(&o.gone))
                    .execute(c)?;
                diesel::delete(push_deliveries::table)
                    .filter(push_deliveries::subscription_id.eq_any(&o.gone))
                    .execute(c)?;
            }
            let mine = diesel::update(alerts::table)
                .filter(alerts::id.eq(o.alert_id))
                .filter(alerts::push_claimed_by.eq(node))
                .set((
                    alerts::push_due_at.eq(o.retry_at),
                    alerts::push_claimed_by.eq(None::<String>),
                    alerts::push_claimed_until.eq(None::<NaiveDateTime>),
                    alerts::push_attempts.eq(alerts::push_attempts + 1),
                ))
                .execute(c)?
                == 1;
            if mine && o.retry_at.is_none() {
                // Done: never claimed again, so what each subscription got
                // need not be kept.
                diesel::delete(push_deliveries::table)
                    .filter(push_deliveries::alert_id.eq(o.alert_id))
                    .execute(c)?;
                continue;
            }
            // Due again (or taken over by another node meanwhile): the next
            // attempt skips the subscriptions that are settled.
            let done = o
                .sent
                .iter()
                .map(|s| (*s, "sent"))
                .chain(o.failed.iter().map(|s| (*s, "failed")));
            for (subscription, outcome) in done {
                diesel::insert_into(push_deliveries::table)
                    .values((
                        push_deliveries::alert_id.eq(o.alert_id),
                        push_deliveries::subscription_id.eq(subscription),
                        push_deliveries::outcome.eq(outcome),
                    ))
                    .on_conflict_do_nothing()
                    .execute(c)?;
            }
        }
        Ok::<_, diesel::result::Error>(())
    }))?;
    Ok(())
}

/// The end of the earliest lease still held on a due alert. Only claimed
/// alerts have a lease, and `alerts_push_lease` holds just those: the
/// `IS NOT NULL` lets both databases use it (a test reads SQLite's plan).
macro_rules! earliest_lease {
    () => {
        alerts::table
            .filter(alerts::push_due_at.is_not_null())
            .filter(alerts::push_claimed_until.is_not_null())
            .select(diesel::dsl::min(alerts::push_claimed_until))
    };
}

/// When something next becomes claimable: the earliest due time of an
/// unclaimed alert, or the earliest end of another node's lease. `None`:
/// nothing waits (new alerts become due a whole delay after they are stored).
pub fn next_push_due(conn: &mut AnyConnection) -> Result<Option<NaiveDateTime>, StorageError> {
    use diesel::dsl::min;
    let (due, lease): (Option<NaiveDateTime>, Option<NaiveDateTime>) = on_backend!(conn, |c| {
        let due = alerts::table
            .filter(alerts::push_due_at.is_not_null())
            .filter(alerts::push_claimed_until.is_null())
            .select(min(alerts::push_due_at))
            .first(c)?;
        let lease = earliest_lease!().first(c)?;
        Ok::<_, diesel::result::Error>((due, lease))
    })?;
    Ok(match (due, lease) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

/// Alerts still waiting for a push (for tests and operators).
pub fn pending_pushes(conn: &mut AnyConnection) -> Result<i64, StorageError> {
    let n = on_backend!(conn, |c| alerts::table
        .filter(alerts::push_due_at.is_not_null())
        .count()
        .get_result(c))?;
    Ok(n)
}

#[cfg(test)]
mod tests;
