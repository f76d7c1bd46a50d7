//! Legacy `/goals/...` and `/progression/stats`, with the old shapes.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::http::error::ApiError;
use crate::http::extractor::AuthUser;
use crate::http::goals_view::{LegacyGoal, LegacyGoalListItem};
use crate::state::AppState;
use questpath_actors::ports::JobStatus;

/// Routes under `/goals`.
pub fn configure_goals(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::post().to(create))
        .route("/me", web::get().to(mine))
        .route(
            "/levels/{level_id}/topics/{index}",
            web::patch().to(toggle_topic),
        )
        .route("/{goal_id}", web::get().to(get));
}

/// Routes under `/progression`.
pub fn configure_progression(cfg: &mut web::ServiceConfig) {
    cfg.route("/stats", web::get().to(stats));
}

#[derive(Deserialize)]
struct CreateGoal {
    description: String,
}

/// The old frontend waits for the roadmap: queue the job, wait for it (bounded), then
/// answer 201 with the whole goal.
async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: crate::http::json::Json<CreateGoal>,
) -> Result<HttpResponse, ApiError> {
    let job = state.goals.create(user.0.id, &body.description).await?;
    let job = state
        .goals
        .wait(user.0.id, job.id, state.settings.legacy_goal_wait)
        .await?;
    match job.status {
        JobStatus::Done => {
            let goal = state.goals.get(user.0.id, job.goal_id).await?;
            Ok(HttpResponse::Created().json(LegacyGoal::from(&goal)))
        }
        JobStatus::Failed => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "generation_failed",
            format!(
                "Failed to create goal: {}",
                job.reason
                    .unwrap_or_else(|| "roadmap generation failed".into())
            ),
        )),
        JobStatus::Queued | JobStatus::Running => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "generation_pending",
            "Your roadmap is taking longer than usual; it will appear in your goals shortly.",
        )),
    }
}

/// All the learner's goals, newest first.
async fn mine(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let mut items = Vec::new();
    let mut after = None;
    // The old route had no paging; bounded here at 1,000 goals.
    for _ in 0..10 {
        let page = state
            .goals
            .list(user.0.id, after, crate::goals::service::MAX_PAGE)
            .await?;
        items.extend(page.items.iter().map(LegacyGoalListItem::from));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok(HttpResponse::Ok().json(items))
}

async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let goal_id = crate::http::path_id(&path, "Goal")?;
    let goal = state.goals.get(user.0.id, goal_id).await?;
    Ok(HttpResponse::Ok().json(LegacyGoal::from(&goal)))
}

/// The old toggle. Its message is the same in both directions, as before.
async fn toggle_topic(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (raw_level, raw_index) = path.into_inner();
    let level_id = crate::http::path_id(&raw_level, "Level")?;
    let index: u32 = raw_index
        .parse()
        .map_err(|_| ApiError::bad_request("invalid_topic_index", "Invalid topic index"))?;
    state.goals.toggle_topic(user.0.id, level_id, index).await?;
    Ok(HttpResponse::Ok().json(json!({ "detail": "Topic marked as completed" })))
}

async fn stats(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let stats = state.goals.stats(&user.0).await?;
    let u = &user.0;
    Ok(HttpResponse::Ok().json(json!({
        "email": u.email,
        "display_name": u.display_name,
        "profile_picture": u.picture,
        "total_exp": u.total_xp,
        "levels_completed": stats.levels_completed,
        "goal_completion_percentage": stats.completion_percent,
    })))
}
