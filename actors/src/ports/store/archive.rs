//! The archive of past weekly boards.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreResult;

/// A finished week whose final weekly board is archived in the store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ArchivedWeek {
    /// The ISO week, `2026-W47`.
    pub period: String,
    /// Learners on the board; the archive holds ranks 1 to `total`.
    pub total: u64,
    /// When the archive was completed.
    pub archived_at: DateTime<Utc>,
}

/// One learner's final place on an archived weekly board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ArchivedEntry {
    /// 1 is the top.
    pub rank: u64,
    pub user_id: Uuid,
    pub score: i64,
    /// When the learner reached `score`, to the millisecond: the tie-break the ranks
    /// were decided by.
    pub reached_at: DateTime<Utc>,
}

/// Finished weeks' final standings, written in parts and marked complete last.
#[async_trait]
pub trait ArchiveStore: Send + Sync + 'static {
    /// Writes some of a finished week's final standings (any ranks, any order; a rank
    /// or a learner written again is overwritten, so re-running an archive is
    /// idempotent). Until [`Self::mark_week_archived`], nothing of the week counts as
    /// archived.
    async fn write_archive_entries(
        &self,
        period: &str,
        entries: &[ArchivedEntry],
    ) -> StoreResult<()>;

    /// Marks the week archived: every one of its `total` standings is written. Called
    /// last, so a half-written archive is never taken for a whole one.
    async fn mark_week_archived(&self, week: &ArchivedWeek) -> StoreResult<()>;

    /// The week, when it is archived (marked); `None` otherwise.
    async fn archived_week(&self, period: &str) -> StoreResult<Option<ArchivedWeek>>;

    /// Archived weeks, newest first, at most `limit`.
    async fn archived_weeks(&self, limit: usize) -> StoreResult<Vec<ArchivedWeek>>;

    /// Up to `limit` archived standings of the week by rank, from `from_rank` (1 is the
    /// top). Complete only once [`Self::archived_week`] answers: callers ask that first.
    async fn archived_entries(
        &self,
        period: &str,
        from_rank: u64,
        limit: usize,
    ) -> StoreResult<Vec<ArchivedEntry>>;

    /// A learner's archived standing on the week (rank and score); `None` without one.
    async fn archived_entry(
        &self,
        period: &str,
        user_id: Uuid,
    ) -> StoreResult<Option<ArchivedEntry>>;

    /// Makes a learner anonymous on an archived week (an account deleted): their rank
    /// keeps its score and time under the nil id, so everyone else keeps their rank,
    /// and their own entry ([`Self::archived_entry`]) is removed. False when they had
    /// none on that week.
    async fn forget_archived_learner(&self, period: &str, user_id: Uuid) -> StoreResult<bool>;
}
