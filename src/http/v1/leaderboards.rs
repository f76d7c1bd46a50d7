//! `GET /api/v1/leaderboards/{board}`: a page of a board by rank, the signed-in
//! learner's entry and, with `around=me`, their neighbours.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::http::error::ApiError;
use crate::http::extractor::AuthUser;
use crate::http::openapi::{BearerErrors, NotFound, Unprocessable};
use crate::leaderboard::{BoardView, LeaderboardError, MAX_AROUND, MAX_PAGE, Row, ViewQuery};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/leaderboards/{board}", web::get().to(get));
}

impl From<LeaderboardError> for ApiError {
    fn from(e: LeaderboardError) -> Self {
        match e {
            LeaderboardError::UnknownBoard(name) => {
                ApiError::not_found(format!("There is no leaderboard {name:?}"))
            }
            LeaderboardError::Board(e) => e.into(),
            LeaderboardError::Store(e) => e.into(),
            LeaderboardError::NotRunning => ApiError::unavailable(e),
        }
    }
}

/// Paging by rank. Read as text and parsed here, so a bad value is a 422 naming its
/// parameter.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct BoardQuery {
    /// First rank of the page (default 1); `next_from_rank` of the previous page.
    #[param(value_type = Option<u64>, minimum = 1)]
    from_rank: Option<String>,
    /// Entries in the page, 1 to 100 (default 10).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// `me`: also the signed-in learner with their neighbours.
    #[param(value_type = Option<String>, pattern = "^me$")]
    around: Option<String>,
    /// Neighbours on each side with `around=me`, 0 to 25 (default 5).
    #[param(value_type = Option<u32>, minimum = 0, maximum = 25)]
    k: Option<String>,
}

impl BoardQuery {
    fn parse(&self) -> Result<ViewQuery, ApiError> {
        let number = |raw: Option<&str>, field: &str, default: u64, range: (u64, u64)| match raw {
            None => Ok(default),
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|n| (range.0..=range.1).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        field,
                        format!("{field} must be {} to {}", range.0, range.1),
                    )
                }),
        };
        let from_rank = number(self.from_rank.as_deref(), "from_rank", 1, (1, u64::MAX))?;
        let limit = number(self.limit.as_deref(), "limit", 10, (1, MAX_PAGE as u64))? as usize;
        let k = number(self.k.as_deref(), "k", 5, (0, MAX_AROUND as u64))? as usize;
        let around = match self.around.as_deref() {
            None => None,
            Some("me") => Some(k),
            Some(_) => return Err(ApiError::invalid_field("around", "around must be me")),
        };
        Ok(ViewQuery {
            from_rank,
            limit,
            around,
        })
    }
}

/// One learner on a board. Other learners are shown by display name (or a masked
/// address when they have none), never by email.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct LeaderboardRow {
    /// 1 is the top. At equal XP, whoever reached it first ranks higher.
    rank: u64,
    user_id: Uuid,
    #[schema(example = "Ada")]
    name: String,
    /// XP on this board.
    score: i64,
    /// When the learner reached `score`.
    reached_at: DateTime<Utc>,
}

impl From<Row> for LeaderboardRow {
    fn from(r: Row) -> Self {
        LeaderboardRow {
            rank: r.rank,
            user_id: r.user_id,
            name: r.name,
            score: r.score,
            reached_at: r.reached_at,
        }
    }
}

/// A page of a board.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct LeaderboardPage {
    /// `alltime` or `weekly`.
    #[schema(example = "weekly")]
    board: &'static str,
    /// The ISO week of a weekly board; null for all-time.
    #[schema(example = "2026-W48")]
    period: Option<String>,
    /// When the week began (Monday 00:00 UTC); null for all-time.
    starts_at: Option<DateTime<Utc>>,
    /// When the weekly board resets (for a past week: when it did); null for all-time.
    next_reset: Option<DateTime<Utc>>,
    /// Whether grants still change this board (all-time and the current week).
    live: bool,
    /// Learners on the board.
    total: u64,
    /// The page, best first.
    entries: Vec<LeaderboardRow>,
    /// With `around=me`: the signed-in learner and their neighbours (empty when not on
    /// the board).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    around: Option<Vec<LeaderboardRow>>,
    /// The signed-in learner's entry; null without XP on this board.
    me: Option<LeaderboardRow>,
    /// `from_rank` of the next page; null on the last.
    next_from_rank: Option<u64>,
}

impl LeaderboardPage {
    fn new(view: BoardView, query: &ViewQuery) -> Self {
        let next = query.from_rank.saturating_add(view.entries.len() as u64);
        LeaderboardPage {
            board: view.board.kind(),
            period: view.board.period(),
            starts_at: view.board.starts_at(),
            next_reset: view.board.next_reset(),
            live: view.board.is_live(Utc::now()),
            total: view.total,
            next_from_rank: (view.entries.len() == query.limit && next <= view.total)
                .then_some(next),
            entries: view.entries.into_iter().map(Into::into).collect(),
            around: view
                .around
                .map(|rows| rows.into_iter().map(Into::into).collect()),
            me: view.me.map(Into::into),
        }
    }
}

/// A leaderboard: `alltime`, `weekly` (the current ISO week, reset Monday 00:00 UTC) or
/// a past week (`weekly:2026-W47`), read-only: from its board for four weeks after it
/// ends, and from its archive, kept for good, once archived (minutes after it ends).
/// Both give the same ranks, scores and times.
#[utoipa::path(
    get,
    path = "/api/v1/leaderboards/{board}",
    tag = "leaderboards",
    security(("bearer" = [])),
    params(
        ("board" = String, Path, description = "`alltime`, `weekly`, or a past week `weekly:<ISO week>` such as `weekly:2026-W47`"),
        BoardQuery,
    ),
    responses(
        (status = 200, description = "A page of the board with the signed-in learner's entry", body = LeaderboardPage),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
        BearerErrors,
    )
)]
pub(crate) async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    query: web::Query<BoardQuery>,
) -> Result<HttpResponse, ApiError> {
    let leaderboards = state.xp.leaderboards();
    let board = leaderboards.board(&path)?;
    let query = query.parse()?;
    let view = leaderboards.view(board, &user.0, query).await?;
    Ok(HttpResponse::Ok().json(LeaderboardPage::new(view, &query)))
}
