//! "Sign out everywhere" in storage (contract §5): the latest sign-out of
//! each user that voided older JWTs. Kept in the database so that it holds
//! after a restart and on nodes that start later; `auth::sign_outs` caches
//! it per node.

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

/// The user's latest sign-out, in Unix ms, if any.
pub fn signed_out_at(conn: &mut AnyConnection, user: &str) -> Result<Option<i64>, StorageError> {
    let at = on_backend!(conn, |c| user_sign_outs::table
        .find(user)
        .select(user_sign_outs::signed_out_at)
        .first::<chrono::NaiveDateTime>(c)
        .optional())?;
    Ok(at.map(|t| t.and_utc().timestamp_millis()))
}
