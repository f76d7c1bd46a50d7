//! The learner's in-app notifications (`/api/v1/notifications`): a page at a time,
//! newest first, with the unread count; one or all marked read. New ones also arrive
//! live as `notification` frames on the websocket.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::http::error::ApiError;
use crate::http::extractor::AuthUser;
use crate::http::openapi::{BearerErrors, NotFound, Unprocessable};
use crate::state::AppState;
use questpath_actors::events::NotificationView;
use questpath_actors::notifications::MAX_PAGE;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/notifications", web::get().to(list))
        .route("/notifications/read-all", web::post().to(read_all))
        .route(
            "/notifications/{notification_id}/read",
            web::post().to(read),
        );
}

/// Cursor pagination and the unread filter. Read as text and parsed here, so a bad
/// value is a 422 naming its parameter.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// `next_cursor` of the previous page.
    #[param(value_type = Option<Uuid>)]
    after: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// `true`: only the unread ones.
    #[param(value_type = Option<bool>)]
    unread: Option<String>,
}

/// One page of notifications.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct NotificationPage {
    /// Newest first.
    items: Vec<NotificationView>,
    /// Pass as `after` for the next page; null on the last page.
    next_cursor: Option<Uuid>,
    /// Unread notifications in all (not only on this page).
    unread: u32,
}

/// The learner's notifications, newest first. Kinds and their `data`: `level_up`
/// (`level`, `previous_level`, `total_xp`), `room_ended` (`room_id`, `code`, `title`,
/// `end_reason`, `rank`, `players`, `score`, `xp`), `league_result` (`week`,
/// `tier_before`, `tier_after`, `outcome`, `rank`, `xp`), `streak_at_risk` (`streak`,
/// `local_date`). The last 200 are kept, for 90 days at most.
#[utoipa::path(
    get,
    path = "/api/v1/notifications",
    tag = "notifications",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "One page of notifications and the unread count", body = NotificationPage),
        (status = 422, response = Unprocessable),
        BearerErrors,
    )
)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = match query.limit.as_deref() {
        None => 20,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| ApiError::invalid_field("limit", "limit must be 1 to 100"))?,
    };
    let after = match query.after.as_deref() {
        None => None,
        Some(raw) => Some(Uuid::parse_str(raw).map_err(|_| {
            ApiError::invalid_field("after", "after must be the next_cursor of a page")
        })?),
    };
    let unread_only = match query.unread.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::invalid_field(
                "unread",
                "unread must be true or false",
            ));
        }
    };
    let page = state
        .notifications
        .list(user.0.id, after, limit, unread_only)
        .await?;
    Ok(HttpResponse::Ok().json(NotificationPage {
        items: page.items,
        next_cursor: page.next,
        unread: page.unread,
    }))
}

/// Marks one of the learner's notifications read (again: harmless).
#[utoipa::path(
    post,
    path = "/api/v1/notifications/{notification_id}/read",
    tag = "notifications",
    security(("bearer" = [])),
    params(("notification_id" = Uuid, Path, description = "Id of one of the learner's notifications")),
    responses(
        (status = 204, description = "It is read"),
        (status = 404, response = NotFound),
        BearerErrors,
    )
)]
pub(crate) async fn read(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = crate::http::path_id(&path, "Notification")?;
    if !state.notifications.mark_read(user.0.id, id).await? {
        return Err(ApiError::not_found(
            "No notification with this id among yours",
        ));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Marks every notification of the learner read.
#[utoipa::path(
    post,
    path = "/api/v1/notifications/read-all",
    tag = "notifications",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "All are read"),
        BearerErrors,
    )
)]
pub(crate) async fn read_all(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    state.notifications.mark_all_read(user.0.id).await?;
    Ok(HttpResponse::NoContent().finish())
}
