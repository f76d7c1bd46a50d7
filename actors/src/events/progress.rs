//! Events of a learner's progress: XP grants and places on the boards.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// XP was granted (from any device or instance).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct XpGranted {
    pub amount: i64,
    pub total_xp: i64,
    pub player_level: u32,
}

/// The learner's place on one board after a grant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankChanged {
    /// `alltime` or `weekly`.
    pub board: String,
    /// The ISO week of a weekly board (`2026-W48`).
    pub period: Option<String>,
    pub rank: u64,
    /// `None` when the learner was not on the board before.
    pub previous_rank: Option<u64>,
    pub score: i64,
    /// When a weekly board resets (RFC 3339).
    pub next_reset: Option<String>,
}

/// One learner in a `leaderboard.top` frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LeaderboardRow {
    pub rank: u64,
    pub user_id: Uuid,
    /// Display name, or a masked address (never an email).
    pub name: String,
    pub score: i64,
}

/// The top of a board, sent to the connections that follow it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardTop {
    pub re: Option<String>,
    pub board: String,
    pub period: Option<String>,
    pub entries: Vec<LeaderboardRow>,
    /// Learners on the board.
    pub total: u64,
    pub next_reset: Option<String>,
}
