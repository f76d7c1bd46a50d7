//! In-process leaderboard, for a single instance without Redis: the same order and
//! rules as the Redis adapter (see `crate::ports::leaderboard`), in memory.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use questpath_actors::ports::leaderboard::{check_scores, ms_time, reached_ms};
use questpath_actors::ports::{
    Leaderboard, LeaderboardEntry, Placement, PortResult, ScoreUpdate, Standing,
};

const BACKEND: &str = "in-process";

/// Sort key: best score first, then the earliest time reached (ms), then user id
/// ascending (`Uuid` orders by bytes, which is also the order of the lowercase
/// hyphenated strings Redis compares).
type Key = (Reverse<i64>, i64, Uuid);

/// Target chunk length of [`RankIndex`]; a chunk splits in two past twice this.
const CHUNK: usize = 512;

/// Keys in order, as a list of sorted chunks (a one-level B-tree).
///
/// A single sorted `Vec` answers ranks with one binary search but moves up to every
/// entry on an insert, which is far too slow to load a million learners; a `BTreeSet`
/// inserts quickly but has to count entries one by one for a rank. Chunks of at most
/// 1,024 keys bound an insert's move to one chunk, and a rank is a sum over the chunks
/// before (about 2,000 lengths for a million learners, a microsecond) plus one binary
/// search.
#[derive(Default)]
struct RankIndex {
    chunks: Vec<Vec<Key>>,
    len: usize,
}

impl RankIndex {
    /// The chunk that holds `key`, or would: the first whose last key is not less.
    fn chunk_of(&self, key: &Key) -> usize {
        let at = self
            .chunks
            .partition_point(|c| c.last().is_some_and(|last| last < key));
        at.min(self.chunks.len().saturating_sub(1))
    }

    fn insert(&mut self, key: Key) {
        if self.chunks.is_empty() {
            self.chunks.push(Vec::with_capacity(2 * CHUNK + 1));
        }
        let i = self.chunk_of(&key);
        let chunk = &mut self.chunks[i];
        let Err(at) = chunk.binary_search(&key) else {
            return; // already there
        };
        chunk.insert(at, key);
        self.len += 1;
        if chunk.len() > 2 * CHUNK {
            let tail = chunk.split_off(CHUNK);
            self.chunks.insert(i + 1, tail);
        }
    }

    fn remove(&mut self, key: &Key) -> bool {
        if self.chunks.is_empty() {
            return false;
        }
        let i = self.chunk_of(key);
        let chunk = &mut self.chunks[i];
        let Ok(at) = chunk.binary_search(key) else {
            return false;
        };
        chunk.remove(at);
        self.len -= 1;
        if chunk.is_empty() {
            self.chunks.remove(i);
        }
        true
    }

    /// Zero-based position of `key`.
    fn position(&self, key: &Key) -> Option<usize> {
        if self.chunks.is_empty() {
            return None;
        }
        let i = self.chunk_of(key);
        let at = self.chunks[i].binary_search(key).ok()?;
        Some(self.chunks[..i].iter().map(Vec::len).sum::<usize>() + at)
    }

    /// Up to `n` keys from zero-based position `from`, with their positions.
    fn slice(&self, from: usize, n: usize) -> Vec<(usize, Key)> {
        let mut out = Vec::with_capacity(n.min(self.len.saturating_sub(from)));
        let mut start = 0;
        for chunk in &self.chunks {
            if out.len() == n {
                break;
            }
            let end = start + chunk.len();
            if end > from {
                let skip = from.saturating_sub(start);
                for (i, key) in chunk.iter().enumerate().skip(skip) {
                    if out.len() == n {
                        break;
                    }
                    out.push((start + i, *key));
                }
            }
            start = end;
        }
        out
    }
}

/// A learner's stored standing.
#[derive(Clone, Copy)]
struct Member {
    score: i64,
    ms: i64,
    entries: u64,
}

impl Member {
    fn key(&self, user_id: Uuid) -> Key {
        (Reverse(self.score), self.ms, user_id)
    }
}

/// One board: standings by user, and every entry in rank order.
#[derive(Default)]
struct Board {
    members: HashMap<Uuid, Member>,
    index: RankIndex,
    expires_at: Option<DateTime<Utc>>,
}

impl Board {
    fn rank(&self, user_id: Uuid) -> Option<u64> {
        let member = self.members.get(&user_id)?;
        self.index
            .position(&member.key(user_id))
            .map(|p| p as u64 + 1)
    }

    fn set(&mut self, user_id: Uuid, standing: &Standing) -> Placement {
        let previous = self.members.get(&user_id).copied();
        let previous_rank = self.rank(user_id);
        let applied = previous.is_none_or(|m| m.entries <= standing.entries);
        if applied {
            if let Some(old) = previous {
                self.index.remove(&old.key(user_id));
            }
            let member = Member {
                score: standing.score,
                ms: reached_ms(standing.reached_at),
                entries: standing.entries,
            };
            self.index.insert(member.key(user_id));
            self.members.insert(user_id, member);
        }
        let member = self.members.get(&user_id).copied().unwrap_or(Member {
            score: standing.score,
            ms: reached_ms(standing.reached_at),
            entries: standing.entries,
        });
        let rank = match self.rank(user_id) {
            Some(rank) => rank,
            None => {
                // Unreachable while `members` and `index` agree; rebuild the index
                // rather than serve wrong ranks if they ever do not.
                self.reindex();
                self.rank(user_id).unwrap_or(self.index.len as u64)
            }
        };
        Placement {
            entry: LeaderboardEntry {
                user_id,
                score: member.score,
                reached_at: ms_time(member.ms),
                rank,
            },
            previous_rank,
            applied,
        }
    }

    fn reindex(&mut self) {
        let mut keys: Vec<Key> = self
            .members
            .iter()
            .map(|(&user, member)| member.key(user))
            .collect();
        keys.sort_unstable();
        self.index = RankIndex {
            len: keys.len(),
            chunks: keys.chunks(CHUNK).map(<[Key]>::to_vec).collect(),
        };
    }

    fn entries(&self, from: usize, n: usize) -> Vec<LeaderboardEntry> {
        self.index
            .slice(from, n)
            .into_iter()
            .map(|(at, (Reverse(score), ms, user_id))| LeaderboardEntry {
                user_id,
                score,
                reached_at: ms_time(ms),
                rank: at as u64 + 1,
            })
            .collect()
    }
}

#[derive(Default)]
struct State {
    boards: HashMap<String, Board>,
    /// Board -> (built at, expires at).
    marks: HashMap<String, (DateTime<Utc>, Option<DateTime<Utc>>)>,
    /// Lease -> held until.
    leases: HashMap<String, Instant>,
}

impl State {
    /// The board unless it has expired (an expired one is dropped).
    fn board(&mut self, name: &str) -> Option<&mut Board> {
        let now = Utc::now();
        if self
            .boards
            .get(name)
            .and_then(|b| b.expires_at)
            .is_some_and(|at| at <= now)
        {
            self.boards.remove(name);
        }
        self.boards.get_mut(name)
    }

    /// Drops every expired board and mark. Called when a board appears (once a week
    /// for weekly boards), so boards nobody reads again do not stay in memory.
    fn purge(&mut self) {
        let now = Utc::now();
        self.boards
            .retain(|_, board| board.expires_at.is_none_or(|at| at > now));
        self.marks
            .retain(|_, (_, expires)| expires.is_none_or(|at| at > now));
    }
}

/// Leaderboards of a single instance, all boards behind one lock (every operation is
/// short and never awaits while holding it).
#[derive(Default)]
pub struct InProcessLeaderboard {
    state: Mutex<State>,
}

impl InProcessLeaderboard {
    /// No boards yet; a board appears with its first score.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        // A panic inside an update could at worst leave one board's index stale, which
        // `reindex` repairs; keep serving rather than poison every later call.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut state)
    }
}

#[async_trait]
impl Leaderboard for InProcessLeaderboard {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn outlives_process(&self) -> bool {
        false
    }

    async fn ping(&self) -> PortResult<()> {
        Ok(())
    }

    async fn apply(&self, updates: &[ScoreUpdate]) -> PortResult<Vec<Placement>> {
        check_scores(BACKEND, updates)?;
        Ok(self.with_state(|state| {
            updates
                .iter()
                .map(|update| {
                    // A new board: the moment to forget expired ones. An expired
                    // board of this name is among them, and starts over.
                    if state.board(&update.board).is_none() {
                        state.purge();
                    }
                    let board = state.boards.entry(update.board.clone()).or_default();
                    if update.expires_at.is_some() {
                        board.expires_at = update.expires_at;
                    }
                    board.set(update.user_id, &update.standing)
                })
                .collect()
        }))
    }

    async fn range(&self, board: &str, offset: u64, n: usize) -> PortResult<Vec<LeaderboardEntry>> {
        let from = usize::try_from(offset).unwrap_or(usize::MAX);
        Ok(self.with_state(|state| {
            state
                .board(board)
                .map(|b| b.entries(from, n))
                .unwrap_or_default()
        }))
    }

    async fn entry(&self, board: &str, user_id: Uuid) -> PortResult<Option<LeaderboardEntry>> {
        Ok(self.with_state(|state| {
            let board = state.board(board)?;
            let rank = board.rank(user_id)?;
            board.entries(rank as usize - 1, 1).pop()
        }))
    }

    async fn around(
        &self,
        board: &str,
        user_id: Uuid,
        k: usize,
    ) -> PortResult<Vec<LeaderboardEntry>> {
        Ok(self.with_state(|state| {
            let Some(board) = state.board(board) else {
                return Vec::new();
            };
            match board.rank(user_id) {
                Some(rank) => {
                    let at = rank as usize - 1;
                    let from = at.saturating_sub(k);
                    board.entries(from, (at - from).saturating_add(k).saturating_add(1))
                }
                None => Vec::new(),
            }
        }))
    }

    async fn len(&self, board: &str) -> PortResult<u64> {
        Ok(self.with_state(|state| state.board(board).map_or(0, |b| b.index.len as u64)))
    }

    async fn clear(&self, board: &str) -> PortResult<()> {
        self.with_state(|state| {
            state.boards.remove(board);
            state.marks.remove(board);
        });
        Ok(())
    }

    async fn remove(&self, board: &str, user_id: Uuid) -> PortResult<bool> {
        Ok(self.with_state(|state| {
            let Some(board) = state.board(board) else {
                return false;
            };
            match board.members.remove(&user_id) {
                Some(member) => {
                    if !board.index.remove(&member.key(user_id)) {
                        // `members` and `index` disagreed: rebuild rather than keep a
                        // ghost in the ranks.
                        board.reindex();
                    }
                    true
                }
                None => false,
            }
        }))
    }

    async fn built_at(&self, board: &str) -> PortResult<Option<DateTime<Utc>>> {
        let now = Utc::now();
        Ok(self.with_state(|state| match state.marks.get(board) {
            Some((_, Some(expires))) if *expires <= now => {
                state.marks.remove(board);
                None
            }
            Some((at, _)) => Some(*at),
            None => None,
        }))
    }

    async fn mark_built(
        &self,
        board: &str,
        at: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> PortResult<()> {
        self.with_state(|state| {
            state
                .marks
                .insert(board.to_string(), (ms_time(reached_ms(at)), expires_at));
        });
        Ok(())
    }

    async fn claim(&self, name: &str, ttl: Duration) -> PortResult<bool> {
        let now = Instant::now();
        Ok(self.with_state(|state| {
            if state.leases.get(name).is_some_and(|until| *until > now) {
                return false;
            }
            state.leases.insert(name.to_string(), now + ttl);
            true
        }))
    }

    async fn release(&self, name: &str) -> PortResult<()> {
        self.with_state(|state| state.leases.remove(name));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator, so failures reproduce.
    fn next(x: &mut u64) -> u64 {
        *x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        *x >> 33
    }

    #[test]
    fn the_chunked_index_stays_sorted_and_counts_right() {
        let mut index = RankIndex::default();
        let mut expected: Vec<Key> = Vec::new();
        let users: Vec<Uuid> = (0..3_000).map(|_| Uuid::new_v4()).collect();
        let mut x = 7;
        for round in 0..20_000 {
            let user = users[(next(&mut x) as usize) % users.len()];
            let key = (
                Reverse((next(&mut x) % 50) as i64),
                (next(&mut x) % 5) as i64,
                user,
            );
            if round % 3 == 0
                && let Some(at) = expected.iter().position(|k| k.2 == user)
            {
                let old = expected.remove(at);
                assert!(index.remove(&old));
            }
            if !expected.iter().any(|k| k.2 == user) {
                index.insert(key);
                expected.push(key);
            }
        }
        expected.sort_unstable();
        assert_eq!(index.len, expected.len());
        assert!(index.chunks.len() > 2, "the test must span several chunks");
        let all: Vec<Key> = index
            .slice(0, usize::MAX)
            .into_iter()
            .map(|(_, k)| k)
            .collect();
        assert_eq!(all, expected);
        for (at, key) in expected.iter().enumerate().step_by(97) {
            assert_eq!(index.position(key), Some(at));
            assert_eq!(
                index.slice(at, 3).first().map(|(p, k)| (*p, *k)),
                Some((at, *key))
            );
        }
        assert!(
            index
                .chunks
                .iter()
                .all(|c| !c.is_empty() && c.len() <= 2 * CHUNK)
        );
    }

    #[test]
    fn reindex_agrees_with_incremental_updates() {
        let mut board = Board::default();
        let mut x = 11;
        let start = Utc::now();
        for i in 0..5_000u64 {
            let user = Uuid::from_u128(u128::from(next(&mut x) % 700));
            let standing = Standing {
                score: (next(&mut x) % 30) as i64,
                reached_at: start + chrono::Duration::milliseconds((next(&mut x) % 4) as i64),
                entries: i,
            };
            board.set(user, &standing);
        }
        let before = board.entries(0, usize::MAX);
        board.reindex();
        assert_eq!(board.entries(0, usize::MAX), before);
    }
}
