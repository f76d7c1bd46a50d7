//! Leaderboard port: ranked XP per board (`"alltime"`, `"weekly:2026-W48"`).

use async_trait::async_trait;
use uuid::Uuid;

use super::PortResult;

/// One learner's place on a board. Rank 1 is the top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderboardEntry {
    pub user_id: Uuid,
    pub score: i64,
    pub rank: u64,
}

/// Ranked scores. Higher scores rank first; equal scores are ordered by user id
/// ascending, the same way in every adapter.
#[async_trait]
pub trait Leaderboard: Send + Sync + 'static {
    fn backend(&self) -> &'static str;

    async fn ping(&self) -> PortResult<()>;

    /// Adds `delta` to the learner's score (creating the entry) and returns the new score.
    async fn increment(&self, board: &str, user_id: Uuid, delta: i64) -> PortResult<i64>;

    /// Sets the learner's score outright (used when rebuilding from the XP ledger).
    async fn set_score(&self, board: &str, user_id: Uuid, score: i64) -> PortResult<()>;

    /// The first `n` entries, best first.
    async fn top(&self, board: &str, n: usize) -> PortResult<Vec<LeaderboardEntry>>;

    /// The learner's entry, or `None` when they have none on this board.
    async fn entry(&self, board: &str, user_id: Uuid) -> PortResult<Option<LeaderboardEntry>>;

    /// Up to `k` entries above and `k` below the learner, with the learner's own;
    /// empty when the learner has no entry.
    async fn around(
        &self,
        board: &str,
        user_id: Uuid,
        k: usize,
    ) -> PortResult<Vec<LeaderboardEntry>>;

    /// Number of entries on the board.
    async fn len(&self, board: &str) -> PortResult<u64>;

    /// Removes the whole board.
    async fn clear(&self, board: &str) -> PortResult<()>;
}
