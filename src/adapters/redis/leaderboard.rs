//! Leaderboard on Redis sorted sets.
//!
//! Scores are stored negated and read in ascending order: Redis orders equal scores by
//! member, ascending, and only in ascending reads (`ZREVRANGE` reverses ties too). With
//! the member being the user id as a lowercase hyphenated string, whose byte order is
//! the `Uuid` byte order, ties come out by user id ascending exactly as in the
//! in-process leaderboard. Scores are Redis doubles: exact up to 2^53.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use fred::prelude::*;
use fred::types::scripts::Script;
use uuid::Uuid;

use super::{BACKEND, Shared, bad_reply, port_err};
use crate::ports::{Leaderboard, LeaderboardEntry, PortError, PortResult};

/// Rank and stored score in one step. KEYS[1] board; ARGV[1] member.
/// Returns {zero-based rank, stored score} or nil.
const ENTRY_LUA: &str = r#"
local rank = redis.call('ZRANK', KEYS[1], ARGV[1])
if not rank then return false end
return {rank, redis.call('ZSCORE', KEYS[1], ARGV[1])}
"#;

/// The learner's rank and the slice around it in one step, so both come from the same
/// state of the board. KEYS[1] board; ARGV[1] member, ARGV[2] k.
/// Returns {first zero-based rank, {member, score, member, score, ...}} or {}.
const AROUND_LUA: &str = r#"
local rank = redis.call('ZRANK', KEYS[1], ARGV[1])
if not rank then return {} end
local k = tonumber(ARGV[2])
local first = rank - k
if first < 0 then first = 0 end
return {first, redis.call('ZRANGE', KEYS[1], first, rank + k, 'WITHSCORES')}
"#;

static ENTRY: LazyLock<Script> = LazyLock::new(|| Script::from_lua(ENTRY_LUA));
static AROUND: LazyLock<Script> = LazyLock::new(|| Script::from_lua(AROUND_LUA));

/// Leaderboards shared by every instance.
#[derive(Clone)]
pub struct RedisLeaderboard {
    shared: Arc<Shared>,
}

impl RedisLeaderboard {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        RedisLeaderboard { shared }
    }

    fn key(&self, board: &str) -> String {
        self.shared.key("lb", board)
    }
}

/// The stored (negated) score as the learner's score.
fn score_of(operation: &'static str, stored: &Value) -> PortResult<i64> {
    let value = stored
        .as_f64()
        .ok_or_else(|| bad_reply(operation, format!("score {stored:?}")))?;
    // `as` saturates: a score beyond i64 (impossible through this adapter) clamps.
    Ok(-(value.round() as i64))
}

fn user_of(operation: &'static str, member: &Value) -> PortResult<Uuid> {
    member
        .as_str()
        .and_then(|s| Uuid::parse_str(&s).ok())
        .ok_or_else(|| bad_reply(operation, format!("member {member:?}")))
}

/// `[member, score, member, score, ...]` (or `[[member, score], ...]` under RESP3)
/// starting at zero-based rank `first`.
fn entries_of(
    operation: &'static str,
    reply: Value,
    first: u64,
) -> PortResult<Vec<LeaderboardEntry>> {
    let items = match reply {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => return Err(bad_reply(operation, format!("{other:?}"))),
    };
    let flat: Vec<Value> = if items.iter().all(|v| matches!(v, Value::Array(_))) {
        items.into_iter().flat_map(|v| v.into_array()).collect()
    } else {
        items
    };
    if !flat.len().is_multiple_of(2) {
        return Err(bad_reply(operation, "odd member/score list"));
    }
    flat.chunks_exact(2)
        .enumerate()
        .map(|(i, pair)| {
            Ok(LeaderboardEntry {
                user_id: user_of(operation, &pair[0])?,
                score: score_of(operation, &pair[1])?,
                rank: first + i as u64 + 1,
            })
        })
        .collect()
}

/// The negated score as Redis stores it; `saturating_neg` keeps `i64::MIN` in range.
fn stored(score: i64) -> f64 {
    score.saturating_neg() as f64
}

#[async_trait]
impl Leaderboard for RedisLeaderboard {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn ping(&self) -> PortResult<()> {
        self.shared.ping().await
    }

    async fn increment(&self, board: &str, user_id: Uuid, delta: i64) -> PortResult<i64> {
        let reply: Value = self
            .shared
            .pool
            .zincrby(self.key(board), stored(delta), user_id.to_string())
            .await
            .map_err(port_err("increment"))?;
        score_of("increment", &reply)
    }

    async fn set_score(&self, board: &str, user_id: Uuid, score: i64) -> PortResult<()> {
        self.shared
            .pool
            .zadd::<(), _, _>(
                self.key(board),
                None,
                None,
                false,
                false,
                (stored(score), user_id.to_string()),
            )
            .await
            .map_err(port_err("set_score"))
    }

    async fn top(&self, board: &str, n: usize) -> PortResult<Vec<LeaderboardEntry>> {
        if n == 0 {
            // `ZRANGE key 0 -1` would be the whole board.
            return Ok(Vec::new());
        }
        let last = i64::try_from(n - 1).unwrap_or(i64::MAX);
        let reply: Value = self
            .shared
            .pool
            .zrange(self.key(board), 0, last, None, false, None, true)
            .await
            .map_err(port_err("top"))?;
        entries_of("top", reply, 0)
    }

    async fn entry(&self, board: &str, user_id: Uuid) -> PortResult<Option<LeaderboardEntry>> {
        let reply = self
            .shared
            .eval(
                "entry",
                &ENTRY,
                vec![self.key(board)],
                vec![Value::from(user_id.to_string())],
            )
            .await?;
        let items = match reply {
            Value::Null => return Ok(None),
            Value::Array(items) => items,
            other => return Err(bad_reply("entry", format!("{other:?}"))),
        };
        let [rank, score] = &items[..] else {
            return Err(bad_reply("entry", format!("{items:?}")));
        };
        let rank = rank
            .as_u64()
            .ok_or_else(|| bad_reply("entry", format!("rank {rank:?}")))?;
        Ok(Some(LeaderboardEntry {
            user_id,
            score: score_of("entry", score)?,
            rank: rank + 1,
        }))
    }

    async fn around(
        &self,
        board: &str,
        user_id: Uuid,
        k: usize,
    ) -> PortResult<Vec<LeaderboardEntry>> {
        // Beyond any board's size, and small enough to stay exact in Lua.
        let k = k.min(1 << 40) as i64;
        let reply = self
            .shared
            .eval(
                "around",
                &AROUND,
                vec![self.key(board)],
                vec![Value::from(user_id.to_string()), Value::from(k)],
            )
            .await?;
        let mut items = match reply {
            Value::Null => return Ok(Vec::new()),
            Value::Array(items) => items,
            other => return Err(bad_reply("around", format!("{other:?}"))),
        };
        if items.is_empty() {
            return Ok(Vec::new());
        }
        if items.len() != 2 {
            return Err(bad_reply("around", format!("{items:?}")));
        }
        let slice = items.pop().unwrap_or(Value::Null);
        let first = items[0]
            .as_u64()
            .ok_or_else(|| bad_reply("around", format!("rank {:?}", items[0])))?;
        entries_of("around", slice, first)
    }

    async fn len(&self, board: &str) -> PortResult<u64> {
        self.shared
            .pool
            .zcard::<u64, _>(self.key(board))
            .await
            .map_err(port_err("len"))
    }

    async fn clear(&self, board: &str) -> PortResult<()> {
        self.shared
            .pool
            .del::<(), _>(self.key(board))
            .await
            .map_err(|e| PortError::new(BACKEND, "clear", e))
    }
}
