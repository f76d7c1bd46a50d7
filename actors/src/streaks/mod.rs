//! Streaks and the daily goal: a learner's day runs in their own time zone, a day
//! counts when its XP reaches the daily goal, the streak grows by one per such day and
//! breaks on a missed one unless a freeze covers it.
//!
//! - `rules`: the pure rules over a learner's record and explicit instants.
//! - `service`: [`Streaks`], fed by the XP service with applied grants (derived from the
//!   ledger, counted once by grant id, completed by the XP recovery), the settings, and
//!   the streak-at-risk checks with their [`AtRiskHook`].

pub mod rules;
pub mod service;

use async_trait::async_trait;
use chrono::NaiveDate;
use uuid::Uuid;

use crate::ports::PortError;

pub use rules::{SettingsError, StreakView};
pub use service::{StreakError, Streaks};

/// A learner whose evening has come with a streak and today's goal not reached: told
/// once per local day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtRisk {
    pub user_id: Uuid,
    /// The streak that a missed day would end (or cost a freeze).
    pub streak: u32,
    /// The learner's local date it is about; with `user_id`, a key to deduplicate on.
    pub local_date: NaiveDate,
}

/// Where at-risk learners go besides their `streak.at_risk` frame (a notification, an
/// email). Called before the learner is marked told, so at least once per local day: a
/// crash in between calls it again for the same `(user_id, local_date)`. An error
/// leaves the check due; the next pass calls again.
#[async_trait]
pub trait AtRiskHook: Send + Sync + 'static {
    async fn at_risk(&self, at_risk: &AtRisk) -> Result<(), PortError>;
}

#[cfg(test)]
mod tests;
