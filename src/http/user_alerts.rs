//! A user's own alerts over REST, with the same credentials as the
//! WebSocket. Read-state changes push to every tab like `mark_read` does.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::credentials::require_user;
use super::error::ApiError;
use super::state::AppState;
use crate::actors::messages::{ListAlerts, MarkAllRead, MarkRead, UnreadCount, db_result};
use crate::models::{AlertView, FieldErrors};

/// `unread`, `limit` and `before`, parsed; unknown parameters are ignored.
struct ListQuery {
    unread_only: bool,
    limit: i64,
    before: Option<i64>,
}

impl ListQuery {
    fn parse(query: &str) -> Result<Self, ApiError> {
        let pairs = web::Query::<Vec<(String, String)>>::from_query(query)
            .map_err(|_| ApiError::field("query", "is not a valid query string"))?;
        let mut errors = FieldErrors::new();
        let mut q = Self {
            unread_only: false,
            limit: 50,
            before: None,
        };
        for (key, value) in pairs.iter() {
            match key.as_str() {
                "unread" => match value.as_str() {
                    "true" | "1" => q.unread_only = true,
                    "false" | "0" => q.unread_only = false,
                    _ => {
                        errors.insert("unread".into(), "must be true or false".into());
                    }
                },
                "limit" => match value.parse::<i64>() {
                    Ok(n) if (1..=200).contains(&n) => q.limit = n,
                    _ => {
                        errors.insert("limit".into(), "must be an integer from 1 to 200".into());
                    }
                },
                "before" => match value.parse::<i64>() {
                    Ok(n) if n > 0 => q.before = Some(n),
                    _ => {
                        errors.insert("before".into(), "must be a positive alert id".into());
                    }
                },
                _ => {}
            }
        }
        if errors.is_empty() {
            Ok(q)
        } else {
            Err(ApiError::fields(errors))
        }
    }
}

pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let user = require_user(&req, &state).await?;
    let q = ListQuery::parse(req.query_string())?;
    let mut rows = db_result(
        state
            .db
            .send(ListAlerts {
                user,
                unread_only: q.unread_only,
                limit: q.limit,
                before: q.before,
            })
            .await,
    )?;
    let more = rows.len() as i64 > q.limit;
    rows.truncate(q.limit as usize);
    let next_before = if more {
        rows.last().map(|r| r.id)
    } else {
        None
    };
    let alerts: Vec<AlertView> = rows.iter().map(AlertView::from).collect();
    Ok(HttpResponse::Ok().json(json!({ "alerts": alerts, "next_before": next_before })))
}

pub async fn unread_count(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = require_user(&req, &state).await?;
    let count = db_result(state.db.send(UnreadCount(user)).await)?;
    Ok(HttpResponse::Ok().json(json!({ "count": count })))
}

pub async fn mark_read(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = require_user(&req, &state).await?;
    let not_found = || ApiError::NotFound(format!("no alert {} for this user", path.as_str()));
    let alert_id: i64 = path.parse().map_err(|_| not_found())?;
    let row = db_result(state.db.send(MarkRead { user, alert_id }).await)?.ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(json!({ "alert": AlertView::from(&row) })))
}

pub async fn read_all(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = require_user(&req, &state).await?;
    let marked = db_result(state.db.send(MarkAllRead(user)).await)?;
    Ok(HttpResponse::Ok().json(json!({ "marked": marked })))
}
