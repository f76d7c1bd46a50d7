//! Legacy `GET /leaderboard`: the old shape, `{leaderboard: [{rank, user_id, email,
//! total_exp}], current_user: {...}}`, from the live all-time board.
//!
//! Two things differ from the old backend, on purpose: `email` carries the display name
//! (or a masked address when there is none), since the old answer exposed every
//! learner's email; and `current_user.rank` is the learner's real rank (the old query
//! always said 1). The old top 10 was cached for 5 minutes; the board answers in
//! microseconds, so it is read live and a grant that changes the top 10 shows on the
//! next read. Only names are cached, briefly (`crate::leaderboard::names::NAME_TTL`).

use actix_web::{HttpResponse, web};
use serde::Serialize;
use uuid::Uuid;

use crate::http::error::ApiError;
use crate::http::extractor::AuthUser;
use crate::leaderboard::names::shown_name;
use crate::leaderboard::{Board, Row, ViewQuery};
use crate::state::AppState;

/// The old top list's length.
const TOP: usize = 10;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(leaderboard));
}

#[derive(Serialize)]
struct LegacyEntry {
    rank: u64,
    user_id: Uuid,
    /// The display name, or a masked address: never an email.
    email: String,
    total_exp: i64,
}

impl From<Row> for LegacyEntry {
    fn from(r: Row) -> Self {
        LegacyEntry {
            rank: r.rank,
            user_id: r.user_id,
            email: r.name,
            total_exp: r.score,
        }
    }
}

#[derive(Serialize)]
struct LegacyLeaderboard {
    leaderboard: Vec<LegacyEntry>,
    current_user: LegacyEntry,
}

async fn leaderboard(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let view = state
        .xp
        .leaderboards()
        .view(
            Board::AllTime,
            &user.0,
            ViewQuery {
                from_rank: 1,
                limit: TOP,
                around: None,
            },
        )
        .await?;
    let current_user = match view.me {
        Some(me) => me.into(),
        // No XP yet: after everyone who has some (the old list counted everyone).
        None => LegacyEntry {
            rank: view.total + 1,
            user_id: user.0.id,
            email: shown_name(&user.0),
            total_exp: user.0.total_xp,
        },
    };
    Ok(HttpResponse::Ok().json(LegacyLeaderboard {
        leaderboard: view.entries.into_iter().map(Into::into).collect(),
        current_user,
    }))
}
