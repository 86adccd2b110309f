//! One answer per row of a stored group, from what the statements answered:
//! the same rules on both backends (idempotency by (user, breach)).

use diesel::QueryResult;

use crate::models::{AlertRow, NewAlertRow};

/// Answers per input row, given what the statements answered (each stored
/// row, and whether they created it): the first mention of a pair they
/// created is `created`; a repeat within `rows`, or a pair stored before,
/// is not; a pair they did not answer is looked up.
pub fn answer_per_row(
    rows: &[NewAlertRow],
    answered: Vec<(AlertRow, bool)>,
    mut look_up: impl FnMut(&NewAlertRow) -> QueryResult<AlertRow>,
) -> QueryResult<Vec<(AlertRow, bool)>> {
    use std::collections::{HashMap, HashSet};
    let by_pair: HashMap<(String, String), (AlertRow, bool)> = answered
        .into_iter()
        .map(|(row, created)| ((row.user_id.clone(), row.breach_id.clone()), (row, created)))
        .collect();
    let mut claimed = HashSet::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let pair = (row.user_id.clone(), row.breach_id.clone());
        out.push(match by_pair.get(&pair) {
            Some((stored, created)) => (stored.clone(), *created && claimed.insert(pair)),
            None => (look_up(row)?, false),
        });
    }
    Ok(out)
}
