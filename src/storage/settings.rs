//! A small key/value table for what the service generates once and must
//! then share between processes: development secrets, the token tag key.

use diesel::prelude::*;

use super::connection::{AnyConnection, StorageError, on_backend};
use crate::models::schema::settings;

/// Returns the stored value of `key`, storing `generate()` first if there is
/// none. Two processes racing here agree on whichever value was stored first.
pub fn setting_or_insert(
    conn: &mut AnyConnection,
    key: &str,
    generate: impl FnOnce() -> String,
) -> Result<String, StorageError> {
    let value = generate();
    let stored = on_backend!(conn, |c| {
        diesel::insert_into(settings::table)
            .values((settings::key.eq(key), settings::value.eq(&value)))
            .on_conflict(settings::key)
            .do_nothing()
            .execute(c)?;
        settings::table
            .find(key)
            .select(settings::value)
            .first::<String>(c)
    })?;
    Ok(stored)
}

/// The stored value of `key`, if any.
pub fn setting(conn: &mut AnyConnection, key: &str) -> Result<Option<String>, StorageError> {
    let v = on_backend!(conn, |c| settings::table
        .find(key)
        .select(settings::value)
        .first::<String>(c)
        .optional())?;
    Ok(v)
}
