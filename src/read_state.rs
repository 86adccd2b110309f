//! Read-state changes and the events they push, shared by the WebSocket
//! messages (`mark_read`, `mark_all_read`) and the REST endpoints so both
//! paths update every tab the same way: `alert_update`, then `unread_count`.

use actix::Addr;

use crate::actors::db::{DbActor, MarkAllRead, MarkRead, db_result};
use crate::delivery::{Delivery, UserEvent};
use crate::models::domain::format_timestamp;
use crate::models::{AlertRow, UserId};
use crate::protocol::UpdateType;
use crate::storage::StorageError;

/// Marks one alert read and tells every session of the user. Marking an
/// alert that is already read pushes again: a tab waiting for the update as
/// its acknowledgement gets one either way.
pub async fn mark_read(
    db: &Addr<DbActor>,
    delivery: &Delivery,
    user: &UserId,
    alert_id: i64,
) -> Result<Option<AlertRow>, StorageError> {
    let Some((row, count)) = db_result(
        db.send(MarkRead {
            user: user.clone(),
            alert_id,
        })
        .await,
    )?
    else {
        return Ok(None);
    };
    let timestamp = format_timestamp(chrono::Utc::now());
    delivery.publish(
        user.clone(),
        UserEvent::Update {
            alert_id: Some(alert_id),
            update_type: UpdateType::MarkedRead,
            timestamp,
        },
    );
    delivery.publish(user.clone(), UserEvent::UnreadCount { count });
    Ok(Some(row))
}

/// Marks all of the user's alerts read and tells every session; returns how
/// many changed.
pub async fn mark_all_read(
    db: &Addr<DbActor>,
    delivery: &Delivery,
    user: &UserId,
) -> Result<usize, StorageError> {
    let marked = db_result(db.send(MarkAllRead(user.clone())).await)?;
    let timestamp = format_timestamp(chrono::Utc::now());
    delivery.publish(
        user.clone(),
        UserEvent::Update {
            alert_id: None,
            update_type: UpdateType::MarkedAllRead,
            timestamp,
        },
    );
    delivery.publish(user.clone(), UserEvent::UnreadCount { count: 0 });
    Ok(marked)
}
