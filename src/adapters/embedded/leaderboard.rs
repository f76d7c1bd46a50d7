//! In-process leaderboard, for a single instance without Redis.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use uuid::Uuid;

use crate::ports::{Leaderboard, LeaderboardEntry, PortResult};

const BACKEND: &str = "in-process";

/// Sort key: best score first, then user id ascending (`Uuid` orders by bytes, which is
/// also the order of the lowercase hyphenated strings Redis compares).
type Key = (Reverse<i64>, Uuid);

/// One board: scores by user, and every entry in rank order.
///
/// A sorted `Vec` rather than a `BTreeSet`: ranks are asked for as often as scores
/// change, and a sorted vector answers "what rank is this" with a binary search, where
/// a B-tree would have to count the entries before it. An update shifts only the
/// entries between the old and the new place, which for XP gains is a short distance.
#[derive(Default)]
struct Board {
    scores: HashMap<Uuid, i64>,
    order: Vec<Key>,
}

impl Board {
    fn set(&mut self, user_id: Uuid, score: i64) {
        let new_key = (Reverse(score), user_id);
        match self.scores.insert(user_id, score) {
            None => {
                let at = self.order.binary_search(&new_key).unwrap_or_else(|at| at);
                self.order.insert(at, new_key);
            }
            Some(old_score) => {
                let old_key = (Reverse(old_score), user_id);
                let Ok(old) = self.order.binary_search(&old_key) else {
                    // Unreachable while `scores` and `order` agree; rebuild the order
                    // rather than serve wrong ranks if they ever do not.
                    self.rebuild();
                    return;
                };
                // Index where the new key belongs in the vector as it is, old key included.
                let Err(new) = self.order.binary_search(&new_key) else {
                    return; // same score: nothing moves
                };
                if new > old {
                    self.order[old..new].rotate_left(1);
                    self.order[new - 1] = new_key;
                } else {
                    self.order[new..=old].rotate_right(1);
                    self.order[new] = new_key;
                }
            }
        }
    }

    fn rebuild(&mut self) {
        self.order = self
            .scores
            .iter()
            .map(|(&user, &score)| (Reverse(score), user))
            .collect();
        self.order.sort_unstable();
    }

    /// Zero-based position of the learner.
    fn position(&self, user_id: Uuid) -> Option<usize> {
        let score = *self.scores.get(&user_id)?;
        self.order.binary_search(&(Reverse(score), user_id)).ok()
    }

    fn entries(&self, from: usize, to: usize) -> Vec<LeaderboardEntry> {
        let to = to.min(self.order.len());
        let from = from.min(to);
        self.order[from..to]
            .iter()
            .enumerate()
            .map(|(i, &(Reverse(score), user_id))| LeaderboardEntry {
                user_id,
                score,
                rank: (from + i + 1) as u64,
            })
            .collect()
    }
}

/// Leaderboards of a single instance, all boards behind one lock (every operation is
/// short and never awaits while holding it).
#[derive(Default)]
pub struct InProcessLeaderboard {
    boards: Mutex<HashMap<String, Board>>,
}

impl InProcessLeaderboard {
    /// No boards yet; a board appears with its first score.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_boards<T>(&self, f: impl FnOnce(&mut HashMap<String, Board>) -> T) -> T {
        // A panic inside `Board::set` could at worst leave one board's order stale,
        // which `rebuild` repairs; keep serving rather than poison every later call.
        let mut boards = self.boards.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut boards)
    }
}

#[async_trait]
impl Leaderboard for InProcessLeaderboard {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn ping(&self) -> PortResult<()> {
        Ok(())
    }

    async fn increment(&self, board: &str, user_id: Uuid, delta: i64) -> PortResult<i64> {
        Ok(self.with_boards(|boards| {
            let board = boards.entry(board.to_string()).or_default();
            let score = board
                .scores
                .get(&user_id)
                .copied()
                .unwrap_or(0)
                .saturating_add(delta);
            board.set(user_id, score);
            score
        }))
    }

    async fn set_score(&self, board: &str, user_id: Uuid, score: i64) -> PortResult<()> {
        self.with_boards(|boards| {
            boards
                .entry(board.to_string())
                .or_default()
                .set(user_id, score)
        });
        Ok(())
    }

    async fn top(&self, board: &str, n: usize) -> PortResult<Vec<LeaderboardEntry>> {
        Ok(self.with_boards(|boards| {
            boards
                .get(board)
                .map(|b| b.entries(0, n))
                .unwrap_or_default()
        }))
    }

    async fn entry(&self, board: &str, user_id: Uuid) -> PortResult<Option<LeaderboardEntry>> {
        Ok(self.with_boards(|boards| {
            let board = boards.get(board)?;
            let at = board.position(user_id)?;
            board.entries(at, at + 1).pop()
        }))
    }

    async fn around(
        &self,
        board: &str,
        user_id: Uuid,
        k: usize,
    ) -> PortResult<Vec<LeaderboardEntry>> {
        Ok(self.with_boards(|boards| {
            let Some(board) = boards.get(board) else {
                return Vec::new();
            };
            match board.position(user_id) {
                Some(at) => {
                    board.entries(at.saturating_sub(k), at.saturating_add(k).saturating_add(1))
                }
                None => Vec::new(),
            }
        }))
    }

    async fn len(&self, board: &str) -> PortResult<u64> {
        Ok(self.with_boards(|boards| boards.get(board).map_or(0, |b| b.order.len() as u64)))
    }

    async fn clear(&self, board: &str) -> PortResult<()> {
        self.with_boards(|boards| boards.remove(board));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_keep_the_order_sorted() {
        let mut board = Board::default();
        let users: Vec<Uuid> = (0..50).map(|_| Uuid::new_v4()).collect();
        let mut x: i64 = 7;
        for round in 0..400 {
            x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
            let user = users[(x as usize) % users.len()];
            board.set(user, (x % 21) - 10 + round % 3);
            let mut expected = board.order.clone();
            expected.sort_unstable();
            assert_eq!(board.order, expected);
            assert_eq!(board.order.len(), board.scores.len());
        }
    }
}
