//! Events of weekly leagues: a cohort's standings, pushed to its learners.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One learner of a cohort's standings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LeagueRow {
    /// 1 is the top. At equal XP, whoever reached it first ranks higher.
    pub rank: u64,
    pub user_id: Uuid,
    /// Display name, or a masked address (never an email).
    pub name: String,
    /// XP earned this week.
    pub xp: i64,
    /// Where the rank stands if the week ended now: `promotion`, `stay` or `demotion`.
    pub zone: String,
}

/// The standings of a learner's cohort, after a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeagueStandings {
    /// The ISO week, `2026-W48`.
    pub week: String,
    /// `bronze` to `diamond`.
    pub tier: String,
    /// The cohort's number within the tier and week.
    pub cohort: u32,
    /// When the week ends (Monday 00:00 UTC, RFC 3339).
    pub ends_at: String,
    /// Ranks 1 to this move up a tier at the week's end.
    pub promotion_ranks: u32,
    /// The last this many ranks move down a tier.
    pub demotion_ranks: u32,
    /// The whole cohort, best first.
    pub standings: Vec<LeagueRow>,
}
