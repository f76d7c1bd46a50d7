//! Streaks: a learner's day settings (time zone, daily goal), their recent days and
//! streak, one record per learner written by compare-and-set; and the index of the
//! streak-at-risk checks by the hour they are due.
//!
//! The record's meaning (what a day, a freeze, a skipped date are) is the core's
//! (`crate::streaks`); the store only keeps it and refuses a stale write.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::StoreResult;

/// One learner's streak state: settings, the days of a recent window, and the streak
/// folded up to the window's start. Stored whole (JSON); small and bounded by the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreakRecord {
    /// IANA name of the learner's zone (`Europe/Berlin`), the zone of "today".
    pub time_zone: String,
    /// XP a day needs to count: 10, 20, 30 or 50.
    pub daily_goal: u32,
    /// The zones in effect over the window, oldest first: a grant is dated in the zone
    /// of its own time, and a zone change that jumps dates skips them.
    #[serde(default)]
    pub zones: Vec<ZoneSpan>,
    /// The learner's local days in the window, by date.
    #[serde(default)]
    pub days: BTreeMap<NaiveDate, StreakDay>,
    /// The streak as of the end of `base.through` (days before the window, folded).
    #[serde(default)]
    pub base: StreakBase,
    /// The local date whose streak-at-risk notice was sent (once per local day).
    #[serde(default)]
    pub at_risk_sent: Option<NaiveDate>,
    /// The at-risk check this record has in the index ([`StreakStore::schedule_streak_check`]).
    #[serde(default)]
    pub check: Option<StreakCheck>,
    /// Freezes and breaks are counted (metrics) for the dates up to this one.
    #[serde(default)]
    pub noted_through: Option<NaiveDate>,
}

/// A zone in effect from `since` until the next span's `since`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneSpan {
    pub since: DateTime<Utc>,
    pub time_zone: String,
}

/// One local day of a learner.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreakDay {
    /// XP granted within the day: the sum of `grants`.
    pub xp: i64,
    /// The daily goal was reached within the day (once reached, it stays).
    pub reached: bool,
    /// The grants counted in `xp`, by ledger grant id: a retried or recovered grant is
    /// never counted twice.
    pub grants: Vec<String>,
}

/// The streak walked up to and including `through`, carried over when old days leave
/// the window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreakBase {
    pub through: Option<NaiveDate>,
    /// Days kept in the current streak.
    pub streak: u32,
    pub longest: u32,
    /// Freezes held (at most 2).
    pub freezes: u32,
    /// Days reached since the last freeze was earned.
    pub toward_freeze: u32,
}

/// A due streak-at-risk check: the learner's `local_date` evening begins at `due_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreakCheck {
    pub user_id: Uuid,
    pub due_at: DateTime<Utc>,
    pub local_date: NaiveDate,
}

impl StreakCheck {
    /// The index bucket of the check: whole hours since the epoch (UTC).
    pub fn hour(&self) -> i64 {
        due_hour(self.due_at)
    }
}

/// The hour bucket of an instant: whole hours since the epoch.
pub fn due_hour(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(3600)
}

/// A stored record and its version (for the next compare-and-set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedStreak {
    pub record: StreakRecord,
    pub version: i64,
}

/// Streak records and the at-risk index.
#[async_trait]
pub trait StreakStore: Send + Sync + 'static {
    /// The learner's record, if one was written: every write that won, for a
    /// compare-and-set to start from.
    async fn streak(&self, user_id: Uuid) -> StoreResult<Option<VersionedStreak>>;

    /// The learner's record to show (a profile, an export): as [`StreakStore::streak`],
    /// except that it may miss a write still being decided. On CQL it is a quorum read
    /// instead of a Paxos round, which cost a third of Cassandra's work per REST read
    /// (docs/capacity.md); it sees every write whose lightweight transaction completed.
    async fn streak_to_show(&self, user_id: Uuid) -> StoreResult<Option<VersionedStreak>>;

    /// Writes the record if the stored one is still at version `expected` (`None`: no
    /// record yet); the written record has version `expected + 1` (1 for the first).
    /// False, and nothing written, when another write came first (even when the
    /// writers race): read again and redo.
    async fn put_streak(
        &self,
        user_id: Uuid,
        record: &StreakRecord,
        expected: Option<i64>,
    ) -> StoreResult<bool>;

    /// Adds `check` to the index of its hour (repeating it is harmless).
    async fn schedule_streak_check(&self, check: &StreakCheck) -> StoreResult<()>;

    /// Removes `check` from the index (absent: nothing happens).
    async fn unschedule_streak_check(&self, check: &StreakCheck) -> StoreResult<()>;

    /// The checks of one hour bucket ([`due_hour`]) due by `due_by`, at most `limit`, in
    /// no particular order. One hour's checks, never the whole index.
    async fn streak_checks_due(
        &self,
        hour: i64,
        due_by: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<StreakCheck>>;

    /// Removes the learner's record (their settings and days). Its check, if any, is
    /// removed by the caller, which knows it from the record.
    async fn delete_streak(&self, user_id: Uuid) -> StoreResult<bool>;
}
