//! Weekly leagues: who is in which cohort of which week, and each week's results.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreResult;
use crate::domain::Tier;

/// One cohort of a week: the `number`th cohort opened in `tier` that week (from 0).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct CohortId {
    /// The ISO week, `2026-W48`.
    pub week: String,
    pub tier: Tier,
    pub number: u32,
}

/// A learner's place in a week's league, with the week's result once it is decided.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LeagueMembership {
    pub user_id: Uuid,
    pub cohort: CohortId,
    /// When the learner's first XP of the week placed them.
    pub placed_at: DateTime<Utc>,
    /// Set by the week's end; `None` until then.
    pub result: Option<LeagueResult>,
}

/// How a learner's week ended in their cohort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LeagueResult {
    /// The tier of the learner's next placement.
    pub tier_after: Tier,
    /// Final place in the cohort, 1 is the top.
    pub rank: u32,
    /// XP earned in the week.
    pub xp: i64,
    /// Learners ranked in the cohort.
    pub cohort_size: u32,
}

/// The outcome of [`LeagueStore::place_in_league`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaguePlacement {
    pub membership: LeagueMembership,
    /// True when this call placed the learner (false: they already were).
    pub placed: bool,
    /// True when this call opened a new cohort for them.
    pub opened: bool,
}

/// A week whose league results are all decided.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LeagueWeek {
    pub week: String,
    /// Cohorts of the week, over every tier.
    pub cohorts: u32,
    /// Learners given a result.
    pub learners: u64,
    pub closed_at: DateTime<Utc>,
}

/// League memberships, cohorts and results.
#[async_trait]
pub trait LeagueStore: Send + Sync + 'static {
    /// Places the learner in `week`, once: when they already have a membership of the
    /// week it is returned unchanged (whatever `tier`), else they join the open cohort
    /// of `tier`, or the next one when the open one holds `max_size` (a new cohort then
    /// opens). Atomic across callers and instances: a learner gets one membership per
    /// week, and no cohort takes more than `max_size` learners. The cohort's member list
    /// ([`Self::league_cohort_members`]) is written too, also when the membership
    /// already existed (which completes a placement a crash cut short).
    async fn place_in_league(
        &self,
        user_id: Uuid,
        week: &str,
        tier: Tier,
        max_size: u32,
        at: DateTime<Utc>,
    ) -> StoreResult<LeaguePlacement>;

    /// The learner's membership of `week`, if placed.
    async fn league_membership(
        &self,
        user_id: Uuid,
        week: &str,
    ) -> StoreResult<Option<LeagueMembership>>;

    /// The learner's memberships, newest week first, of weeks before `before` (all
    /// when `None`), at most `limit`.
    async fn league_memberships(
        &self,
        user_id: Uuid,
        before: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<LeagueMembership>>;

    /// How many cohorts of `tier` opened in `week` (numbered 0 to this, exclusive).
    async fn league_cohort_count(&self, week: &str, tier: Tier) -> StoreResult<u32>;

    /// The learners placed in a cohort (at most the `max_size` it was formed with).
    async fn league_cohort_members(&self, cohort: &CohortId) -> StoreResult<Vec<Uuid>>;

    /// Sets the week's results of learners placed in `week` (a learner written again
    /// is overwritten, so a rerun is harmless). A learner without a membership of the
    /// week is skipped.
    async fn set_league_results(
        &self,
        week: &str,
        results: &[(Uuid, LeagueResult)],
    ) -> StoreResult<()>;

    /// Marks the week's results complete; called last.
    async fn mark_league_week_closed(&self, week: &LeagueWeek) -> StoreResult<()>;

    /// The week, when its results are complete.
    async fn league_week(&self, week: &str) -> StoreResult<Option<LeagueWeek>>;

    /// Forgets a deleted learner: every membership and result, and their place in the
    /// cohorts' member lists. Returns how many memberships were removed.
    async fn forget_league_learner(&self, user_id: Uuid) -> StoreResult<u32>;
}
