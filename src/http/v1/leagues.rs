//! `GET /api/v1/leagues/current` (the learner's cohort this week, with its zones and
//! the time left) and `GET /api/v1/leagues/history` (their past weeks, paged).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::http::error::ApiError;
use crate::http::extractor::AuthUser;
use crate::http::openapi::{BearerErrors, Unprocessable};
use crate::leaderboard::Week;
use crate::state::AppState;
use questpath_actors::domain::Tier;
use questpath_actors::events::LeagueRow;
use questpath_actors::leagues::view::{CurrentLeague, MAX_HISTORY_PAGE};
use questpath_actors::leagues::{LeagueError, rules};
use questpath_actors::ports::store::LeagueMembership;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/leagues/current", web::get().to(current))
        .route("/leagues/history", web::get().to(history));
}

impl From<LeagueError> for ApiError {
    fn from(e: LeagueError) -> Self {
        match e {
            LeagueError::Store(e) => e.into(),
            LeagueError::Board(e) => e.into(),
            other => ApiError::internal(other),
        }
    }
}

/// One learner of the cohort.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct LeagueStandingRow {
    /// 1 is the top. At equal XP, whoever reached it first ranks higher.
    rank: u64,
    user_id: Uuid,
    /// Display name, or a masked address (never an email).
    #[schema(example = "Ada")]
    name: String,
    /// XP earned this week.
    xp: i64,
    /// Where the rank stands if the week ended now.
    #[schema(example = "promotion", pattern = "^(promotion|stay|demotion)$")]
    zone: String,
}

impl From<LeagueRow> for LeagueStandingRow {
    fn from(r: LeagueRow) -> Self {
        LeagueStandingRow {
            rank: r.rank,
            user_id: r.user_id,
            name: r.name,
            xp: r.xp,
            zone: r.zone,
        }
    }
}

/// The learner's cohort this week.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct LeagueCohort {
    /// The cohort's number within its tier and week.
    number: u32,
    /// Learners in the cohort (at most 30).
    size: u32,
    /// Ranks 1 to this move up a tier at the week's end (0 in the top tier).
    promotion_ranks: u32,
    /// The last this many ranks move down a tier (0 in the lowest tier).
    demotion_ranks: u32,
    /// The whole cohort, best first.
    standings: Vec<LeagueStandingRow>,
    /// The signed-in learner's row; null when they are not on the board (an instant
    /// after placement).
    me: Option<LeagueStandingRow>,
}

/// The learner's league this week.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct LeagueCurrent {
    /// The ISO week (Monday to Sunday, UTC).
    #[schema(example = "2026-W48")]
    week: String,
    /// The learner's tier this week (when not placed yet, the tier their first XP of
    /// the week places them in).
    tier: Tier,
    /// Whether the learner is in a cohort this week (placed by their first XP of it).
    placed: bool,
    /// When the week ends and its league is decided (Monday 00:00 UTC).
    ends_at: DateTime<Utc>,
    /// Seconds until `ends_at`.
    seconds_left: i64,
    /// Their cohort; null until placed.
    cohort: Option<LeagueCohort>,
}

impl LeagueCurrent {
    fn new(current: CurrentLeague, viewer: Uuid) -> Self {
        let cohort = current.cohort.map(|(id, standings)| {
            let rows: Vec<LeagueStandingRow> =
                standings.standings.into_iter().map(Into::into).collect();
            let size = rows.len() as u32;
            let zones = rules::zones(id.tier, size);
            let me = rows
                .iter()
                .find(|r| r.user_id == viewer)
                .map(|r| LeagueStandingRow {
                    rank: r.rank,
                    user_id: r.user_id,
                    name: r.name.clone(),
                    xp: r.xp,
                    zone: r.zone.clone(),
                });
            LeagueCohort {
                number: id.number,
                size,
                promotion_ranks: zones.promoted,
                demotion_ranks: zones.demoted,
                standings: rows,
                me,
            }
        });
        LeagueCurrent {
            week: current.week.label(),
            tier: current.tier,
            placed: cohort.is_some(),
            ends_at: current.ends_at,
            seconds_left: current.time_left.num_seconds(),
            cohort,
        }
    }
}

/// The learner's current league: their tier, their cohort's standings with the
/// promotion and demotion zones, and the time left in the week. A learner is placed
/// in a cohort of their tier by their first XP of the week.
#[utoipa::path(
    get,
    path = "/api/v1/leagues/current",
    tag = "leagues",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The learner's league this week", body = LeagueCurrent),
        BearerErrors,
    )
)]
pub(crate) async fn current(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let current = state.xp.leagues().current(&user.0).await?;
    Ok(HttpResponse::Ok().json(LeagueCurrent::new(current, user.0.id)))
}

/// Paging of past weeks. Read as text and parsed here, so a bad value is a 422 naming
/// its parameter.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryQuery {
    /// Weeks before this ISO week (`2026-W47`); `next_before` of the previous page.
    #[param(value_type = Option<String>, example = "2026-W47")]
    before: Option<String>,
    /// Weeks in the page, 1 to 50 (default 10).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 50)]
    limit: Option<String>,
}

/// One past week.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct LeagueWeekResult {
    #[schema(example = "2026-W47")]
    week: String,
    /// The tier the learner played the week in.
    tier: Tier,
    /// The tier the week's result gave them.
    tier_after: Tier,
    /// `promoted`, `demoted` or `stayed`.
    #[schema(example = "promoted", pattern = "^(promoted|demoted|stayed)$")]
    outcome: &'static str,
    /// Final place in the cohort, 1 is the top.
    rank: u32,
    /// XP earned in the week.
    xp: i64,
    /// Learners ranked in the cohort.
    cohort_size: u32,
}

impl LeagueWeekResult {
    fn of(membership: LeagueMembership) -> Option<Self> {
        let result = membership.result?;
        let tier = membership.cohort.tier;
        Some(LeagueWeekResult {
            outcome: match result.tier_after.cmp(&tier) {
                std::cmp::Ordering::Greater => "promoted",
                std::cmp::Ordering::Less => "demoted",
                std::cmp::Ordering::Equal => "stayed",
            },
            week: membership.cohort.week,
            tier,
            tier_after: result.tier_after,
            rank: result.rank,
            xp: result.xp,
            cohort_size: result.cohort_size,
        })
    }
}

/// A page of past weeks.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct LeagueHistoryPage {
    /// Newest first; weeks not decided yet are not listed.
    weeks: Vec<LeagueWeekResult>,
    /// `before` of the next page; null on the last.
    #[schema(example = "2026-W40")]
    next_before: Option<String>,
}

/// The learner's past league weeks, newest first: tier, result, place and XP.
#[utoipa::path(
    get,
    path = "/api/v1/leagues/history",
    tag = "leagues",
    security(("bearer" = [])),
    params(HistoryQuery),
    responses(
        (status = 200, description = "A page of the learner's past league weeks", body = LeagueHistoryPage),
        (status = 422, response = Unprocessable),
        BearerErrors,
    )
)]
pub(crate) async fn history(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let before = match query.before.as_deref() {
        None => None,
        Some(raw) => Some(Week::parse(raw).ok_or_else(|| {
            ApiError::invalid_field("before", "before must be an ISO week such as 2026-W47")
        })?),
    };
    let limit = match query.limit.as_deref() {
        None => 10,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_HISTORY_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::invalid_field("limit", format!("limit must be 1 to {MAX_HISTORY_PAGE}"))
            })?,
    };
    let history = state.xp.leagues().history(user.0.id, before, limit).await?;
    Ok(HttpResponse::Ok().json(LeagueHistoryPage {
        weeks: history
            .weeks
            .into_iter()
            .filter_map(LeagueWeekResult::of)
            .collect(),
        next_before: history.next_before.map(Week::label),
    }))
}
