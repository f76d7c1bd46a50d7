//! `GET`, `PATCH` and `DELETE /api/v1/me`, and `GET /api/v1/me/export` (the last two in
//! `account.rs`: a learner's own data).

use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use questpath_actors::streaks::rules::{check_goal, parse_zone};
use questpath_actors::streaks::{SettingsError, StreakError, StreakView};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::http::error::ApiError;
use crate::http::extractor::AuthUser;
use crate::http::openapi::{BearerErrors, BodyErrors};
use crate::http::users::Me;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/me", web::get().to(get_me))
        .route("/me", web::patch().to(patch_me))
        .route("/me", web::delete().to(super::account::delete))
        .route("/me/export", web::get().to(super::account::export));
}

/// The signed-in user with their day settings and streak.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Profile {
    #[serde(flatten)]
    me: Me,
    /// IANA time zone of the learner's days (`Europe/Berlin`); `UTC` until set.
    #[schema(example = "Europe/Berlin")]
    time_zone: String,
    /// XP a day needs to count for the streak: 10, 20, 30 or 50.
    #[schema(example = 20)]
    daily_goal: u32,
    streak: ProfileStreak,
}

/// The learner's streak and today's progress, in their time zone.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ProfileStreak {
    /// Days kept in a row; today counts once its goal is reached.
    current: u32,
    longest: u32,
    /// Streak freezes held (at most 2; one is earned per 7 days kept). A missed day
    /// uses one by itself instead of breaking the streak.
    freezes: u32,
    /// The learner's local date now.
    #[schema(value_type = String, format = Date, example = "2026-12-05")]
    today: NaiveDate,
    /// XP granted within the local day.
    today_xp: i64,
    /// Today's XP reached the daily goal.
    goal_reached: bool,
}

impl Profile {
    fn of(me: Me, view: StreakView) -> Self {
        Profile {
            me,
            time_zone: view.time_zone,
            daily_goal: view.daily_goal,
            streak: ProfileStreak {
                current: view.streak,
                longest: view.longest,
                freezes: view.freezes,
                today: view.today,
                today_xp: view.today_xp,
                goal_reached: view.goal_reached,
            },
        }
    }
}

/// A refused day setting, as a 422 naming the field.
pub(crate) fn settings_error(e: SettingsError) -> ApiError {
    ApiError::invalid_field(e.field(), e.to_string())
}

impl From<StreakError> for ApiError {
    fn from(e: StreakError) -> Self {
        match e {
            StreakError::Settings(e) => settings_error(e),
            StreakError::Store(e) => e.into(),
        }
    }
}

async fn profile(state: &AppState, me: Me, user_id: Uuid) -> Result<Profile, ApiError> {
    let view = state.streaks.view(user_id).await?;
    Ok(Profile::of(me, view))
}

/// The signed-in user, with their day settings and streak.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The signed-in user", body = Profile),
        BearerErrors,
    )
)]
pub(crate) async fn get_me(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let id = user.0.id;
    let verified = state.auth.email_verified(&user.0).await?;
    Ok(HttpResponse::Ok().json(profile(&state, Me::new(user.0, verified), id).await?))
}

/// Changes to the signed-in user; absent fields stay as they are.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MePatch {
    /// 1 to 50 characters once trimmed; no control or invisible formatting characters.
    #[schema(min_length = 1, max_length = 50, pattern = r"\S", example = "Ada")]
    display_name: Option<String>,
    /// An IANA time zone name (`Europe/Berlin`, `America/New_York`, `UTC`), exactly as
    /// the zone database spells it. Days already counted keep their dates.
    #[schema(example = "Europe/Berlin")]
    time_zone: Option<String>,
    /// 10, 20, 30 or 50 XP. Applies from today on: today's XP already meeting a lowered
    /// goal reaches today; past days keep what they were.
    #[schema(example = 30)]
    daily_goal: Option<u32>,
}

/// Changes the signed-in user's profile and day settings. Every field is checked before
/// anything changes: one refused field (422, `errors` naming it) changes nothing.
#[utoipa::path(
    patch,
    path = "/api/v1/me",
    tag = "me",
    security(("bearer" = [])),
    request_body = MePatch,
    responses(
        (status = 200, description = "The updated user", body = Profile),
        BodyErrors,
        BearerErrors,
    )
)]
pub(crate) async fn patch_me(
    state: web::Data<AppState>,
    user: AuthUser,
    body: crate::http::json::Json<MePatch>,
) -> Result<HttpResponse, ApiError> {
    let mut refused = Vec::new();
    if let Some(Err(e)) = body.time_zone.as_deref().map(parse_zone) {
        refused.push((e.field().to_string(), e.to_string()));
    }
    if let Some(Err(e)) = body.daily_goal.map(check_goal) {
        refused.push((e.field().to_string(), e.to_string()));
    }
    if !refused.is_empty() {
        return Err(ApiError::invalid_fields(refused));
    }
    let user = match &body.display_name {
        Some(name) => state.auth.rename(user.0.id, name).await?,
        None => user.0,
    };
    let view = if body.time_zone.is_some() || body.daily_goal.is_some() {
        state
            .streaks
            .update_settings(user.id, body.time_zone.as_deref(), body.daily_goal)
            .await?
    } else {
        state.streaks.view(user.id).await?
    };
    let verified = state.auth.email_verified(&user).await?;
    Ok(HttpResponse::Ok().json(Profile::of(Me::new(user, verified), view)))
}
