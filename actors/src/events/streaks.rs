//! Events of a learner's streak and daily goal.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The learner's streak or today's progress changed (after a grant or a settings change).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreakUpdated {
    pub streak: u32,
    pub longest: u32,
    pub freezes: u32,
    /// The learner's local date.
    pub today: NaiveDate,
    pub today_xp: i64,
    pub daily_goal: u32,
    pub goal_reached: bool,
}

/// A local day's goal was reached (once per day).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyGoalReached {
    pub date: NaiveDate,
    pub xp: i64,
    pub daily_goal: u32,
    /// The streak with this day counted.
    pub streak: u32,
}

/// The learner's evening has come with a streak and today's goal not yet reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreakAtRisk {
    pub streak: u32,
    pub local_date: NaiveDate,
    pub today_xp: i64,
    pub daily_goal: u32,
    pub freezes: u32,
}
