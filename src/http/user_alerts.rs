//! A user's own alerts over REST, with the same credentials as the
//! WebSocket. Read-state changes push to every tab like `mark_read` does.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::credentials::require_user;
use super::error::{ApiError, ErrorBody};
use super::state::AppState;
use crate::actors::messages::{ListAlerts, MarkAllRead, MarkRead, UnreadCount, db_result};
use crate::models::{AlertView, FieldErrors, Severity};
use crate::storage::AlertFilter;

/// A page of the user's alerts, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertPage {
    pub alerts: Vec<AlertView>,
    /// The `before` of the next page; `null` on the last page.
    #[schema(required, minimum = 1)]
    pub next_before: Option<i64>,
    /// The user's unread alerts in total, whatever the filter.
    #[schema(minimum = 0)]
    pub unread_count: i64,
}

/// How many of the user's alerts are unread.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadCountBody {
    #[schema(minimum = 0)]
    pub count: i64,
}

/// The alert as it is now stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertBody {
    pub alert: AlertView,
}

/// How many alerts changed from unread to read.
#[derive(Debug, Serialize, ToSchema)]
pub struct MarkedBody {
    #[schema(minimum = 0)]
    pub marked: usize,
}

/// `unread`, `limit`, `before` and `severity`, parsed; unknown parameters
/// are ignored.
struct ListQuery {
    filter: AlertFilter,
    limit: i64,
}

/// `HIGH,critical` → the severities as stored; repeated parameters add up.
fn parse_severities(value: &str, into: &mut Vec<String>) -> Result<(), String> {
    for item in value.split(',') {
        let severity = Severity::parse(item)
            .map_err(|_| "must be a comma-separated list of LOW, MEDIUM, HIGH, CRITICAL")?;
        let name = severity.as_str().to_owned();
        if !into.contains(&name) {
            into.push(name);
        }
    }
    Ok(())
}

impl ListQuery {
    fn parse(query: &str) -> Result<Self, ApiError> {
        let pairs = web::Query::<Vec<(String, String)>>::from_query(query)
            .map_err(|_| ApiError::field("query", "is not a valid query string"))?;
        let mut errors = FieldErrors::new();
        let mut q = Self {
            filter: AlertFilter::default(),
            limit: 50,
        };
        for (key, value) in pairs.iter() {
            match key.as_str() {
                "unread" => match value.as_str() {
                    "true" | "1" => q.filter.unread_only = true,
                    "false" | "0" => q.filter.unread_only = false,
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
                    Ok(n) if n > 0 => q.filter.before = Some(n),
                    _ => {
                        errors.insert("before".into(), "must be a positive alert id".into());
                    }
                },
                "severity" => {
                    if let Err(why) = parse_severities(value, &mut q.filter.severities) {
                        errors.insert("severity".into(), why);
                    }
                }
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

#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    tag = "user",
    operation_id = "list_alerts",
    summary = "A page of the user's own alerts, newest first",
    params(
        ("unread" = Option<String>, Query, pattern = "^(true|false|1|0)$", description = "Only unread alerts (`true`/`false`, `1`/`0`)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "Page size, default 50"),
        ("before" = Option<i64>, Query, minimum = 1, description = "Only alerts with a smaller id (the previous page's `next_before`)"),
        ("severity" = Option<String>, Query, description = "Comma-separated severities (any case), e.g. `HIGH,CRITICAL`",
            pattern = "^(?:[Ll][Oo][Ww]|[Mm][Ee][Dd][Ii][Uu][Mm]|[Hh][Ii][Gg][Hh]|[Cc][Rr][Ii][Tt][Ii][Cc][Aa][Ll])(?:,(?:[Ll][Oo][Ww]|[Mm][Ee][Dd][Ii][Uu][Mm]|[Hh][Ii][Gg][Hh]|[Cc][Rr][Ii][Tt][Ii][Cc][Aa][Ll]))*$"),
    ),
    security(("user_jwt" = []), ("user_token" = [])),
    responses(
        (status = 200, description = "One page", body = AlertPage),
        (status = 401, response = super::error::Unauthorized),
        (status = 422, response = super::error::ValidationFailed),
        (status = 429, response = super::error::RateLimited),
        (status = 503, response = super::error::Unavailable),
    )
)]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let user = require_user(&req, &state).await?;
    let q = ListQuery::parse(req.query_string())?;
    let (mut rows, unread_count) = db_result(
        state
            .db
            .send(ListAlerts {
                user,
                filter: q.filter,
                limit: q.limit,
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
    Ok(HttpResponse::Ok().json(AlertPage {
        alerts: rows.iter().map(AlertView::from).collect(),
        next_before,
        unread_count,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/alerts/unread-count",
    tag = "user",
    operation_id = "unread_count",
    summary = "How many of the user's alerts are unread",
    security(("user_jwt" = []), ("user_token" = [])),
    responses(
        (status = 200, description = "The count", body = UnreadCountBody),
        (status = 401, response = super::error::Unauthorized),
        (status = 429, response = super::error::RateLimited),
        (status = 503, response = super::error::Unavailable),
    )
)]
pub async fn unread_count(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = require_user(&req, &state).await?;
    let count = db_result(state.db.send(UnreadCount(user)).await)?;
    Ok(HttpResponse::Ok().json(UnreadCountBody { count }))
}

#[utoipa::path(
    post,
    path = "/api/v1/alerts/{alert_id}/read",
    tag = "user",
    operation_id = "mark_read",
    summary = "Marks one of the user's alerts read and tells every open tab",
    params(("alert_id" = i64, Path, minimum = 1, description = "The alert's id")),
    security(("user_jwt" = []), ("user_token" = [])),
    responses(
        (status = 200, description = "The alert, now read", body = AlertBody),
        (status = 401, response = super::error::Unauthorized),
        (status = 404, description = "The user has no such alert", body = ErrorBody),
        (status = 429, response = super::error::RateLimited),
        (status = 503, response = super::error::Unavailable),
    )
)]
pub async fn mark_read(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = require_user(&req, &state).await?;
    let not_found = || ApiError::NotFound(format!("no alert {} for this user", path.as_str()));
    let alert_id: i64 = path.parse().map_err(|_| not_found())?;
    let row = db_result(state.db.send(MarkRead { user, alert_id }).await)?.ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(AlertBody {
        alert: AlertView::from(&row),
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/alerts/read-all",
    tag = "user",
    operation_id = "mark_all_read",
    summary = "Marks all the user's alerts read and tells every open tab",
    security(("user_jwt" = []), ("user_token" = [])),
    responses(
        (status = 200, description = "How many changed", body = MarkedBody),
        (status = 401, response = super::error::Unauthorized),
        (status = 429, response = super::error::RateLimited),
        (status = 503, response = super::error::Unavailable),
    )
)]
pub async fn read_all(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = require_user(&req, &state).await?;
    let marked = db_result(state.db.send(MarkAllRead(user)).await)?;
    Ok(HttpResponse::Ok().json(MarkedBody { marked }))
}
