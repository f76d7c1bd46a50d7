//! `/api/v1/goals`, `/api/v1/levels/{id}/topics/{index}`, `/api/v1/jobs/{id}` and
//! `/api/v1/me/stats`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use questpath_actors::rules::xp::player_level;
use serde::Deserialize;
use uuid::Uuid;

use crate::http::error::ApiError;
use crate::http::extractor::AuthUser;
use crate::http::goals_view::{
    GoalPage, GoalSummary, GoalView, JobAccepted, JobView, LevelView, StatsView,
};
use crate::http::openapi::{BearerErrors, BodyErrors, Conflict, NotFound, Unprocessable};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/goals", web::post().to(create))
        .route("/goals", web::get().to(list))
        .route("/goals/{goal_id}", web::get().to(get))
        .route("/goals/{goal_id}", web::delete().to(delete))
        .route("/levels/{level_id}", web::get().to(level))
        .route(
            "/levels/{level_id}/topics/{index}",
            web::put().to(set_topic),
        )
        .route("/jobs/{job_id}", web::get().to(job))
        .route("/me/stats", web::get().to(stats));
}

/// What the learner wants to learn; a roadmap is generated from it.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct CreateGoal {
    /// 10 to 500 characters, not counting surrounding spaces.
    #[schema(
        min_length = 10,
        max_length = 500,
        example = "Learn to cook Italian food at home"
    )]
    description: String,
}

/// 202: generation runs in the background; follow the job.
#[utoipa::path(
    post,
    path = "/api/v1/goals",
    tag = "goals",
    security(("bearer" = [])),
    request_body = CreateGoal,
    responses(
        (status = 202, description = "Generation queued; poll the job (or watch the websocket)",
            body = JobAccepted,
            headers(("Location" = String, description = "`/api/v1/jobs/{job_id}`"))),
        BodyErrors,
        BearerErrors,
    )
)]
pub(crate) async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: crate::http::json::Json<CreateGoal>,
) -> Result<HttpResponse, ApiError> {
    let job = state.goals.create(user.0.id, &body.description).await?;
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/api/v1/jobs/{}", job.id)))
        .json(JobAccepted {
            job: JobView::from(&job),
        }))
}

/// Cursor pagination of the learner's goals. Both are read as text and parsed here, so
/// a bad value is a 422 naming its parameter.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// `next_cursor` of the previous page.
    #[param(value_type = Option<Uuid>)]
    after: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
}

/// The learner's goals, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/goals",
    tag = "goals",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "One page of goals", body = GoalPage),
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
            .filter(|n| (1..=crate::goals::service::MAX_PAGE).contains(n))
            .ok_or_else(|| ApiError::invalid_field("limit", "limit must be 1 to 100"))?,
    };
    let after = match query.after.as_deref() {
        None => None,
        Some(raw) => Some(Uuid::parse_str(raw).map_err(|_| {
            ApiError::invalid_field("after", "after must be the next_cursor of a page")
        })?),
    };
    let page = state.goals.list(user.0.id, after, limit).await?;
    Ok(HttpResponse::Ok().json(GoalPage {
        items: page.items.iter().map(GoalSummary::from).collect(),
        next_cursor: page.next,
    }))
}

/// A goal with its roadmap.
#[utoipa::path(
    get,
    path = "/api/v1/goals/{goal_id}",
    tag = "goals",
    security(("bearer" = [])),
    params(("goal_id" = Uuid, Path, description = "Id of one of the learner's goals")),
    responses(
        (status = 200, description = "The goal", body = GoalView),
        (status = 404, response = NotFound),
        BearerErrors,
    )
)]
pub(crate) async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let goal_id = crate::http::path_id(&path, "Goal")?;
    let goal = state.goals.get(user.0.id, goal_id).await?;
    Ok(HttpResponse::Ok().json(GoalView::from(&goal)))
}

/// Deletes a goal with its roadmap and progress.
#[utoipa::path(
    delete,
    path = "/api/v1/goals/{goal_id}",
    tag = "goals",
    security(("bearer" = [])),
    params(("goal_id" = Uuid, Path, description = "Id of one of the learner's goals")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, response = NotFound),
        BearerErrors,
    )
)]
pub(crate) async fn delete(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let goal_id = crate::http::path_id(&path, "Goal")?;
    state.goals.delete(user.0.id, goal_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A level with its topics.
#[utoipa::path(
    get,
    path = "/api/v1/levels/{level_id}",
    tag = "levels",
    security(("bearer" = [])),
    params(("level_id" = Uuid, Path, description = "Id of a level of one of the learner's goals")),
    responses(
        (status = 200, description = "The level", body = LevelView),
        (status = 404, response = NotFound),
        BearerErrors,
    )
)]
pub(crate) async fn level(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let level_id = crate::http::path_id(&path, "Level")?;
    let level = state.goals.level(user.0.id, level_id).await?;
    Ok(HttpResponse::Ok().json(LevelView::from(&level)))
}

/// The state to give a topic.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TopicState {
    completed: bool,
}

/// Sets a topic's state explicitly; repeating the call is harmless.
#[utoipa::path(
    put,
    path = "/api/v1/levels/{level_id}/topics/{index}",
    tag = "levels",
    security(("bearer" = [])),
    params(
        ("level_id" = Uuid, Path, description = "Id of a level of one of the learner's goals"),
        ("index" = u32, Path, description = "The topic's `index` in the level"),
    ),
    request_body = TopicState,
    responses(
        (status = 200, description = "The level after the change", body = LevelView),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        BodyErrors,
        BearerErrors,
    )
)]
pub(crate) async fn set_topic(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(String, u32)>,
    body: crate::http::json::Json<TopicState>,
) -> Result<HttpResponse, ApiError> {
    let (raw_level, index) = path.into_inner();
    let level_id = crate::http::path_id(&raw_level, "Level")?;
    let level = state
        .goals
        .set_topic(user.0.id, level_id, index, body.completed)
        .await?;
    Ok(HttpResponse::Ok().json(LevelView::from(&level)))
}

/// A roadmap-generation job.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{job_id}",
    tag = "jobs",
    security(("bearer" = [])),
    params(("job_id" = Uuid, Path, description = "Id from the `Location` of `POST /api/v1/goals`")),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 404, response = NotFound),
        BearerErrors,
    )
)]
pub(crate) async fn job(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let job_id = crate::http::path_id(&path, "Job")?;
    let job = state.goals.job(user.0.id, job_id).await?;
    Ok(HttpResponse::Ok().json(JobView::from(&job)))
}

/// The learner's experience and progress over all goals.
#[utoipa::path(
    get,
    path = "/api/v1/me/stats",
    tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The learner's progress", body = StatsView),
        BearerErrors,
    )
)]
pub(crate) async fn stats(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let stats = state.goals.stats(&user.0).await?;
    Ok(HttpResponse::Ok().json(StatsView {
        total_xp: user.0.total_xp,
        level: player_level(user.0.total_xp),
        levels_completed: stats.levels_completed,
        total_levels: stats.total_levels,
        completion_percent: stats.completion_percent,
    }))
}
