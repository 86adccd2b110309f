//! "Sign out everywhere" in storage (contract §5): the latest sign-out of
//! each user that voided older JWTs. Kept in the database so that it holds
//! after a restart and on nodes that start later; `auth::sign_outs` keeps
//! them in memory on each node.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::connection::{AnyConnection, StorageError, on_backend};
use super::tokens::revoke_user_tokens;
use crate::models::schema::user_sign_outs;

/// Revokes every opaque token of the user and voids their JWTs issued
/// before `at`.
pub fn sign_out(
    conn: &mut AnyConnection,
    user: &str,
    at: DateTime<Utc>,
) -> Result<usize, StorageError> {
    let revoked = revoke_user_tokens(conn, user)?;
    let at = at.naive_utc();
    on_backend!(conn, |c| diesel::insert_into(user_sign_outs::table)
        .values((
            user_sign_outs::user_id.eq(user),
            user_sign_outs::signed_out_at.eq(at),
        ))
        .on_conflict(user_sign_outs::user_id)
        .do_update()
        .set(user_sign_outs::signed_out_at.eq(at))
        .execute(c))?;
    Ok(revoked)
}

/// Sign-outs written at or after `since` (all of them with `None`), as
/// (user, Unix ms).
pub fn sign_outs_since(
    conn: &mut AnyConnection,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<(String, i64)>, StorageError> {
    // Every backend stores 1970; not every one stores chrono's minimum.
    let since = since.unwrap_or(DateTime::UNIX_EPOCH).naive_utc();
    let rows = on_backend!(conn, |c| user_sign_outs::table
        .filter(user_sign_outs::signed_out_at.ge(since))
        .select((user_sign_outs::user_id, user_sign_outs::signed_out_at))
        .load::<(String, chrono::NaiveDateTime)>(c))?;
    Ok(rows
        .into_iter()
        .map(|(user, at)| (user, at.and_utc().timestamp_millis()))
        .collect())
}
