//! Passing a level: the one place where a passed quiz completes its level, unlocks the
//! next and earns XP through the ledger, whether the quiz ran on the server's clock (the
//! session actor) or in the old client (the legacy `POST /levels/{id}/complete`).

use chrono::NaiveDate;
use uuid::Uuid;

use super::service::{GoalError, GoalService};
use crate::ports::{Level, LevelStatus};
use crate::rules::xp::level_pass_grant;
use crate::xp::XpService;

/// What passing a level earned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelPassed {
    /// XP this pass added (0 when today's XP for this level was already earned).
    pub earned: i64,
    pub total_xp: i64,
    /// The pass moved the learner to a higher player level.
    pub level_up: bool,
    /// The next level of the roadmap was unlocked by this pass.
    pub next_level_unlocked: bool,
}

/// Completes `level` (as the store has it now) for `user_id` and grants its XP: the
/// full reward on the first pass, a smaller one for a repass, once per level per `today`.
pub async fn pass_level(
    goals: &GoalService,
    xp: &XpService,
    user_id: Uuid,
    level: &Level,
    today: NaiveDate,
) -> Result<LevelPassed, GoalError> {
    let first_pass = level.status != LevelStatus::Completed;
    let next_level_unlocked = goals.complete_level(level).await?;
    let grant = level_pass_grant(&level.id.to_string(), level.xp_reward, first_pass, today);
    let outcome = xp.grant(user_id, &grant).await?;
    Ok(LevelPassed {
        earned: outcome.earned,
        total_xp: outcome.total_xp,
        level_up: outcome.level_up(),
        next_level_unlocked,
    })
}
