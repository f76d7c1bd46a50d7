//! Leaderboard port: ranked XP per board (`"alltime"`, `"weekly:2026-W48"`).
//!
//! # Order
//! Higher scores rank first. At equal score, whoever reached it first ranks higher
//! (`reached_at`, to the millisecond), and at the same millisecond the lower user id
//! (byte order) ranks higher. The order is total, so every adapter ranks the same
//! learners the same way, and a board rebuilt from the ledger is equal to the lost one.
//!
//! # Exactness
//! Redis keeps scores as doubles, which hold every integer up to 2^53 exactly; scores
//! are therefore limited to ±[`MAX_SCORE`] (far above the 10^9 XP the game must
//! support), and an update beyond it is refused by every adapter before anything is
//! written. The time of the tie-break is not folded into the score (a common encoding
//! that stops being exact long before 10^9 XP): it is kept in the member's name.
//!
//! # Writes
//! Boards are only ever *set* to a standing computed from the XP ledger (never
//! incremented), so every write is safe to repeat. A [`Standing`] says how many ledger
//! entries it sums; the ledger only grows, so a standing that sums fewer entries than the
//! stored one was computed from an older read, and adapters ignore it. Racing writers (a
//! grant and a rebuild, two instances) therefore cannot bring a score back.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::PortResult;

/// Largest score (and smallest, negated) a board holds: 2^53 - 1, the largest integer
/// a double holds together with all its neighbours.
pub const MAX_SCORE: i64 = (1 << 53) - 1;

/// Latest time a board orders by, in milliseconds since 1970 (13 digits, the year
/// 2286). Earlier than 1970 counts as 1970, later as this; both far from any grant.
pub const MAX_REACHED_MS: i64 = 9_999_999_999_999;

/// A learner's standing on one board, as summed from the XP ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub score: i64,
    /// When the learner reached `score`: the time of the latest ledger entry summed.
    /// Kept to the millisecond.
    pub reached_at: DateTime<Utc>,
    /// How many ledger entries `score` sums: the standing's version.
    pub entries: u64,
}

/// One learner's place on a board. Rank 1 is the top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderboardEntry {
    pub user_id: Uuid,
    pub score: i64,
    /// When the learner reached `score` (to the millisecond); earlier ranks higher.
    pub reached_at: DateTime<Utc>,
    pub rank: u64,
}

/// Sets one learner's standing on one board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreUpdate {
    pub board: String,
    pub user_id: Uuid,
    pub standing: Standing,
    /// When the whole board may be dropped (weekly boards, once archived); `None`
    /// keeps it. Every update of a board should name the same time.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The outcome of one [`ScoreUpdate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// The learner's entry after the update.
    pub entry: LeaderboardEntry,
    /// The learner's rank before the update; `None` when they were not on the board.
    pub previous_rank: Option<u64>,
    /// False when the update was older than the stored standing and was ignored.
    pub applied: bool,
}

/// Ranked scores, in the order described in the module documentation.
#[async_trait]
pub trait Leaderboard: Send + Sync + 'static {
    fn backend(&self) -> &'static str;

    /// Whether boards survive a restart of this process (Redis: yes; in-process: no,
    /// they are built from the ledger at every start, which is no loss to warn about).
    fn outlives_process(&self) -> bool {
        true
    }

    async fn ping(&self) -> PortResult<()>;

    /// Applies the updates in order, as one batch (one round trip on Redis), and
    /// returns one placement per update, in the same order. An update whose standing
    /// sums fewer entries than the stored one is ignored. A score beyond
    /// ±[`MAX_SCORE`] fails the whole batch before anything is written.
    async fn apply(&self, updates: &[ScoreUpdate]) -> PortResult<Vec<Placement>>;

    /// Up to `n` entries from zero-based position `offset` (rank `offset + 1`), best
    /// first.
    async fn range(&self, board: &str, offset: u64, n: usize) -> PortResult<Vec<LeaderboardEntry>>;

    /// The first `n` entries, best first.
    async fn top(&self, board: &str, n: usize) -> PortResult<Vec<LeaderboardEntry>> {
        self.range(board, 0, n).await
    }

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

    /// Removes the whole board, with its mark of completeness.
    async fn clear(&self, board: &str) -> PortResult<()>;

    /// Removes one learner's entry (an account deleted); true when there was one. The
    /// others close up behind it. A later standing of theirs would be placed again:
    /// the XP layer stops writing a deleted learner first, and removes what a write
    /// racing the deletion brought back (`crate::xp`).
    async fn remove(&self, board: &str, user_id: Uuid) -> PortResult<bool>;

    /// When the board was last completed from the ledger (see
    /// [`Leaderboard::mark_built`]); `None` when it never was or its data was lost.
    async fn built_at(&self, board: &str) -> PortResult<Option<DateTime<Utc>>>;

    /// Records that the board holds every standing the ledger gave at `at` (a rebuild
    /// that started then has finished). The mark lives and dies with the board's data,
    /// so a Redis that lost its data reads as never built. It expires at `expires_at`.
    async fn mark_built(
        &self,
        board: &str,
        at: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> PortResult<()>;

    /// Takes the lease `name` for `ttl` unless someone holds it; true when taken. Keeps
    /// several instances from rebuilding the same boards at once.
    async fn claim(&self, name: &str, ttl: Duration) -> PortResult<bool>;

    /// Gives the lease `name` back (whoever holds it).
    async fn release(&self, name: &str) -> PortResult<()>;
}

/// Milliseconds since 1970 as boards order them: clamped to `0..=MAX_REACHED_MS`.
pub fn reached_ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis().clamp(0, MAX_REACHED_MS)
}

/// The time boards keep for `at`: its millisecond, clamped like [`reached_ms`].
pub fn reached_time(at: DateTime<Utc>) -> DateTime<Utc> {
    ms_time(reached_ms(at))
}

/// The time of a clamped millisecond count (always in range).
pub fn ms_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms.clamp(0, MAX_REACHED_MS)).unwrap_or_default()
}

/// Refuses a batch holding a score a double cannot hold exactly.
pub fn check_scores(backend: &'static str, updates: &[ScoreUpdate]) -> PortResult<()> {
    match updates
        .iter()
        .find(|u| !(-MAX_SCORE..=MAX_SCORE).contains(&u.standing.score))
    {
        Some(update) => Err(super::PortError::new(
            backend,
            "apply",
            format!(
                "score {} of {} on {} is beyond ±2^53 - 1",
                update.standing.score, update.user_id, update.board
            ),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_score_up_to_the_limit_survives_a_double() {
        for score in [
            0,
            1,
            999_999_999,
            1_000_000_000,
            1_000_000_001,
            MAX_SCORE - 1,
            MAX_SCORE,
        ] {
            for s in [score, -score] {
                assert_eq!((s as f64) as i64, s);
                assert_eq!(s.to_string().parse::<f64>().unwrap() as i64, s);
            }
        }
        // One past the limit, a double can no longer tell neighbours apart.
        assert_eq!((MAX_SCORE + 2) as f64, (MAX_SCORE + 1) as f64);
    }

    #[test]
    fn times_clamp_to_the_ordered_range() {
        let before = DateTime::from_timestamp_millis(-5).unwrap();
        assert_eq!(reached_ms(before), 0);
        let now = Utc::now();
        assert_eq!(reached_ms(now), now.timestamp_millis());
        assert_eq!(reached_time(now).timestamp_millis(), now.timestamp_millis());
        assert_eq!(format!("{MAX_REACHED_MS:013}").len(), 13);
    }
}
