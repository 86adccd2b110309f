//! Whose fault a failed insert of alerts was: the data's (`Refused`: the
//! same request will fail again, and must not take the rest of its group
//! down with it) or storage's (unavailable: it may well succeed later).

use chrono::Utc;
use diesel::prelude::*;

use super::connection::{AnyConnection, StorageError, on_backend};
use crate::models::NewAlertRow;
use crate::models::schema::alerts;

/// How sure the kind of a failed write makes us about whose fault it was.
enum Verdict {
    /// A constraint or a value the database will never take.
    Refused,
    /// The connection, the transaction machinery or the server's state.
    Unavailable,
    /// An error diesel does not classify. On PostgreSQL that covers data
    /// exceptions (SQLSTATE class 22, e.g. a NUL in text) but also a full
    /// disk or a statement timeout; on SQLite, a trigger's `RAISE` but also
    /// `SQLITE_BUSY`. Settled by `stores_a_plain_alert`.
    Unsure,
}

fn verdict(e: &diesel::result::Error) -> Verdict {
    use diesel::result::{DatabaseErrorKind as Kind, Error};
    match e {
        Error::DatabaseError(
            Kind::UniqueViolation
            | Kind::ForeignKeyViolation
            | Kind::NotNullViolation
            | Kind::CheckViolation
            | Kind::ExclusionViolation
            | Kind::RestrictViolation,
            _,
        ) => Verdict::Refused,
        Error::DatabaseError(
            Kind::ClosedConnection
            | Kind::UnableToSendCommand
            | Kind::SerializationFailure
            | Kind::ReadOnlyTransaction,
            _,
        ) => Verdict::Unavailable,
        Error::DatabaseError(_, _) => Verdict::Unsure,
        // A value diesel itself could not encode for the database.
        Error::SerializationError(_) => Verdict::Refused,
        _ => Verdict::Unavailable,
    }
}

/// Whether the database stores an ordinary alert right now, in a
/// transaction that is rolled back: if it does, an unclassified error on
/// the alerts just tried was about their data; if it does not (disk full,
/// locked, gone), storage is unavailable and nobody's alert is at fault.
/// Runs only after a failed insert, never on the hot path.
fn stores_a_plain_alert(conn: &mut AnyConnection) -> bool {
    use diesel::result::Error;
    let now = Utc::now().naive_utc();
    let probe = NewAlertRow {
        user_id: "_alerthub_probe".into(),
        breach_id: "_alerthub_probe".into(),
        title: "probe".into(),
        severity: "LOW".into(),
        confidence: 0.0,
        detected_at: now,
        description: None,
        source: None,
        read: false,
        created_at: now,
        push_due_at: None,
    };
    let result: QueryResult<()> = on_backend!(conn, |c| c.transaction(|c| {
        diesel::insert_into(alerts::table)
            .values(&probe)
            .on_conflict((alerts::user_id, alerts::breach_id))
            .do_nothing()
            .execute(c)?;
        Err(Error::RollbackTransaction)
    }));
    matches!(result, Err(Error::RollbackTransaction))
}

/// Types a failed insert of alerts as refused or unavailable.
pub fn classify_insert_error(conn: &mut AnyConnection, e: diesel::result::Error) -> StorageError {
    match verdict(&e) {
        Verdict::Refused => StorageError::Refused(e.to_string()),
        Verdict::Unsure if stores_a_plain_alert(conn) => StorageError::Refused(e.to_string()),
        Verdict::Unsure | Verdict::Unavailable => StorageError::Query(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_violations_are_refusals() {
        let mut conn = crate::storage::pool::in_memory_sqlite();
        let check = diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::CheckViolation,
            Box::new("check".to_string()),
        );
        assert!(classify_insert_error(&mut conn, check).is_refusal());
        let closed = diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ClosedConnection,
            Box::new("closed".to_string()),
        );
        assert!(!classify_insert_error(&mut conn, closed).is_refusal());
    }
}
