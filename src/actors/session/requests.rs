//! What a session does for each client message (contract §1): answers it
//! at once (`ping`, `subscribe_to_updates`) or asks storage and answers
//! when storage does. Read-state changes reach every tab through the hub;
//! only failures are answered here.

use futures_util::FutureExt;
use futures_util::future::LocalBoxFuture;

use super::super::messages::{
    MarkAllRead, MarkRead, ReplaySince, SessionStorage, UnreadCount, db_result,
};
use super::outgoing::ReplayRows;
use crate::models::UserId;
use crate::protocol::{ClientMessage, ErrorCode, frames};

pub enum Request {
    /// Send this frame now.
    Reply(String),
    /// Send the frame this resolves to, if any.
    Later(LocalBoxFuture<'static, Option<String>>),
}

fn unavailable() -> String {
    frames::error(ErrorCode::Unavailable, "storage is unavailable")
}

pub fn handle(message: ClientMessage, user: &UserId, storage: &SessionStorage) -> Request {
    let user = user.clone();
    match message {
        ClientMessage::Ping { timestamp } => Request::Reply(frames::pong(&timestamp)),
        ClientMessage::SubscribeToUpdates => Request::Reply(frames::subscribed(user.as_str())),
        ClientMessage::GetUnreadCount => {
            let sent = storage.unread.send(UnreadCount(user));
            Request::Later(
                sent.map(|r| {
                    Some(db_result(r).map_or_else(|_| unavailable(), frames::unread_count))
                })
                .boxed_local(),
            )
        }
        ClientMessage::MarkRead { alert_id } => {
            let sent = storage.mark_read.send(MarkRead { user, alert_id });
            Request::Later(
                sent.map(move |r| match db_result(r) {
                    Ok(Some(_)) => None,
                    Ok(None) => Some(frames::error(
                        ErrorCode::NotFound,
                        &format!("no alert {alert_id} for this user"),
                    )),
                    Err(_) => Some(unavailable()),
                })
                .boxed_local(),
            )
        }
        // The session rebinds itself (`lifetime`); it never gets here.
        ClientMessage::RefreshToken { .. } => {
            Request::Reply(frames::error(ErrorCode::InvalidMessage, "unexpected"))
        }
        ClientMessage::MarkAllRead => {
            let sent = storage.mark_all_read.send(MarkAllRead(user));
            Request::Later(
                sent.map(|r| db_result(r).err().map(|_| unavailable()))
                    .boxed_local(),
            )
        }
    }
}

/// What the client missed since `since`, or the `error` frame to send
/// instead when storage cannot say (the session then goes live).
pub fn replay(
    storage: &SessionStorage,
    user: &UserId,
    since: i64,
    max: i64,
) -> LocalBoxFuture<'static, Result<ReplayRows, String>> {
    let user = user.clone();
    let sent = storage.replay.send(ReplaySince {
        user: user.clone(),
        since,
        max,
    });
    sent.map(move |result| match db_result(result) {
        Ok((rows, truncated)) => Ok(ReplayRows::new(rows, truncated)),
        Err(e) => {
            log::warn!("replay for user {user} failed: {e}");
            Err(frames::error(
                ErrorCode::Unavailable,
                "storage is unavailable: the replay was not sent",
            ))
        }
    })
    .boxed_local()
}
