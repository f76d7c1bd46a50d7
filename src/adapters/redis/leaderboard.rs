//! Leaderboard on Redis sorted sets.
//!
//! # Encoding
//! A board is three keys, sharing the hash tag `{lb:board}` (one cluster slot per board):
//! - `{p}{lb:board}`, the sorted set. Its score is the learner's XP, *negated*, and its
//!   member is `{reached ms, 13 digits}:{user id}`. Reads are ascending, so the best
//!   score comes first; Redis orders equal scores by member bytes, which with the
//!   fixed-width time first means "reached first ranks higher", then user id
//!   ascending (the order of the lowercase hyphenated strings is the `Uuid` byte
//!   order). The score is a double holding the XP alone, so it is exact for every score
//!   up to ±(2^53 - 1) (`MAX_SCORE`, enforced before writing); the tie-break never
//!   touches the score's precision.
//! - `{p}{lb:board}#members`, a hash from user id to `{entries} {member}`: where the
//!   learner's member is, and how many ledger entries its score sums (the version an
//!   older update is checked against).
//! - `{p}{lb:board}#built`, the time (ms) of the last completed rebuild, if any.
//!
//! Removing a learner (a deleted account) deletes their member and hash entry in one
//! script call too.
//!
//! Every change of a learner is one Lua script call (atomic: the member, its hash entry
//! and the version check cannot be seen half-done), and a batch of updates is one call
//! per board (a script may only touch one slot of a cluster), the boards' calls sent
//! together: one round trip for a batch, whatever its size up to [`MAX_BATCH`] per
//! board. Boards are independent, so nothing relies on two boards changing at once.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use fred::prelude::*;
use fred::types::scripts::Script;
use fred::types::{Expiration, SetOptions};
use futures_util::future::try_join_all;
use uuid::Uuid;

use super::{BACKEND, Shared, bad_reply, port_err};
use questpath_actors::ports::leaderboard::{check_scores, ms_time, reached_ms};
use questpath_actors::ports::{
    Leaderboard, LeaderboardEntry, Placement, PortError, PortResult, ScoreUpdate,
};

/// Most updates one script call applies; a longer batch is several calls, in order.
/// A call of this size runs for about a millisecond, short enough not to hold other
/// clients up noticeably.
pub const MAX_BATCH: usize = 500;

/// Applies a batch of updates. KEYS: per board, its sorted set then its members hash.
/// ARGV[1]: the number of updates; then six per update: board number (1-based), user
/// id, stored (negated) score, member, entries summed, expiry in ms since 1970 (`0`:
/// none). Returns per update {applied 0/1, previous zero-based rank or -1, rank, stored
/// score, member}.
const APPLY_LUA: &str = r#"
local out = {}
local expired = {}
local n = tonumber(ARGV[1])
for u = 0, n - 1 do
  local a = 2 + u * 6
  local b = tonumber(ARGV[a])
  local zset, members = KEYS[2 * b - 1], KEYS[2 * b]
  local user, score, member = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local entries = tonumber(ARGV[a + 4])
  local expire = ARGV[a + 5]
  local current, current_entries, previous_rank = false, -1, -1
  local stored = redis.call('HGET', members, user)
  if stored then
    local space = string.find(stored, ' ', 1, true)
    if space then
      local m = string.sub(stored, space + 1)
      local r = redis.call('ZRANK', zset, m)
      if r then
        current = m
        current_entries = tonumber(string.sub(stored, 1, space - 1))
        previous_rank = r
      end
    end
  end
  local applied = 0
  if current_entries <= entries then
    if current and current ~= member then
      redis.call('ZREM', zset, current)
    end
    redis.call('ZADD', zset, score, member)
    redis.call('HSET', members, user, ARGV[a + 4] .. ' ' .. member)
    current = member
    applied = 1
  else
    score = redis.call('ZSCORE', zset, current)
  end
  out[u + 1] = {applied, previous_rank, redis.call('ZRANK', zset, current), score, current}
  if expire ~= '0' and expired[b] ~= expire then
    expired[b] = expire
    redis.call('PEXPIREAT', zset, expire)
    redis.call('PEXPIREAT', members, expire)
  end
end
return out
"#;

/// Rank, stored score and member in one step. KEYS[1] board, KEYS[2] its members hash;
/// ARGV[1] user id. Returns {zero-based rank, stored score, member} or nil.
const ENTRY_LUA: &str = r#"
local stored = redis.call('HGET', KEYS[2], ARGV[1])
if not stored then return false end
local space = string.find(stored, ' ', 1, true)
if not space then return false end
local member = string.sub(stored, space + 1)
local rank = redis.call('ZRANK', KEYS[1], member)
if not rank then return false end
return {rank, redis.call('ZSCORE', KEYS[1], member), member}
"#;

/// The learner's rank and the slice around it in one step, so both come from the same
/// state of the board. KEYS as for ENTRY; ARGV[1] user id, ARGV[2] k.
/// Returns {first zero-based rank, {member, score, member, score, ...}} or {}.
const AROUND_LUA: &str = r#"
local stored = redis.call('HGET', KEYS[2], ARGV[1])
if not stored then return {} end
local space = string.find(stored, ' ', 1, true)
if not space then return {} end
local rank = redis.call('ZRANK', KEYS[1], string.sub(stored, space + 1))
if not rank then return {} end
local k = tonumber(ARGV[2])
local first = rank - k
if first < 0 then first = 0 end
return {first, redis.call('ZRANGE', KEYS[1], first, rank + k, 'WITHSCORES')}
"#;

/// Removes a learner: their member and its hash entry, in one step. KEYS as for ENTRY;
/// ARGV[1] user id. Returns 1 when the learner was on the board, else 0.
const REMOVE_LUA: &str = r#"
local stored = redis.call('HGET', KEYS[2], ARGV[1])
if not stored then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
local space = string.find(stored, ' ', 1, true)
if not space then return 0 end
return redis.call('ZREM', KEYS[1], string.sub(stored, space + 1))
"#;

static APPLY: LazyLock<Script> = LazyLock::new(|| Script::from_lua(APPLY_LUA));
static ENTRY: LazyLock<Script> = LazyLock::new(|| Script::from_lua(ENTRY_LUA));
static AROUND: LazyLock<Script> = LazyLock::new(|| Script::from_lua(AROUND_LUA));
static REMOVE: LazyLock<Script> = LazyLock::new(|| Script::from_lua(REMOVE_LUA));

/// Leaderboards shared by every instance.
#[derive(Clone)]
pub struct RedisLeaderboard {
    shared: Arc<Shared>,
}

impl RedisLeaderboard {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        RedisLeaderboard { shared }
    }

    /// The board's sorted set; its hash tag (`{lb:board}`) is shared by the board's
    /// other keys, so a script or a `DEL` may touch them together on a cluster.
    fn key(&self, board: &str) -> String {
        self.shared.tagged("lb", board)
    }

    fn members_key(&self, board: &str) -> String {
        format!("{}#members", self.key(board))
    }

    fn built_key(&self, board: &str) -> String {
        format!("{}#built", self.key(board))
    }

    fn lease_key(&self, name: &str) -> String {
        self.shared.key("lb-lease", name)
    }

    /// One script call for at most [`MAX_BATCH`] updates. The script takes several
    /// boards, but [`Leaderboard::apply`] gives it one, so on a cluster it stays on one slot.
    async fn apply_batch(&self, updates: &[&ScoreUpdate]) -> PortResult<Vec<Placement>> {
        let mut boards: Vec<&str> = Vec::new();
        let mut args: Vec<Value> = Vec::with_capacity(1 + updates.len() * 6);
        args.push(Value::from(updates.len() as i64));
        for update in updates {
            let number = match boards.iter().position(|b| *b == update.board) {
                Some(at) => at + 1,
                None => {
                    boards.push(&update.board);
                    boards.len()
                }
            };
            args.push(Value::from(number as i64));
            args.push(Value::from(update.user_id.to_string()));
            args.push(Value::from(stored(update.standing.score)));
            args.push(Value::from(member(
                reached_ms(update.standing.reached_at),
                update.user_id,
            )));
            args.push(Value::from(update.standing.entries.to_string()));
            args.push(Value::from(
                update
                    .expires_at
                    .map_or(0, |at| at.timestamp_millis().max(1))
                    .to_string(),
            ));
        }
        let keys: Vec<String> = boards
            .iter()
            .flat_map(|b| [self.key(b), self.members_key(b)])
            .collect();
        let reply = self.shared.eval("apply", &APPLY, keys, args).await?;
        let Value::Array(items) = reply else {
            return Err(bad_reply("apply", format!("{reply:?}")));
        };
        if items.len() != updates.len() {
            return Err(bad_reply("apply", "one result per update expected"));
        }
        items.into_iter().map(placement_of).collect()
    }
}

/// The member of a learner: the time reached (13 digits, so bytes order like numbers)
/// then the user id.
fn member(ms: i64, user_id: Uuid) -> String {
    format!("{ms:013}:{user_id}")
}

/// The time and user of a member.
fn parse_member(operation: &'static str, value: &Value) -> PortResult<(i64, Uuid)> {
    let text = value
        .as_str()
        .ok_or_else(|| bad_reply(operation, format!("member {value:?}")))?;
    let (ms, user) = text
        .split_once(':')
        .ok_or_else(|| bad_reply(operation, format!("member {text}")))?;
    let ms = ms
        .parse::<i64>()
        .map_err(|_| bad_reply(operation, format!("member {text}")))?;
    let user = Uuid::parse_str(user).map_err(|_| bad_reply(operation, format!("member {text}")))?;
    Ok((ms, user))
}

/// The stored (negated) score as the learner's score. Exact: stored scores are whole
/// numbers within ±2^53, which doubles hold exactly.
fn score_of(operation: &'static str, stored: &Value) -> PortResult<i64> {
    let value = stored
        .as_f64()
        .filter(|v| v.is_finite() && v.fract() == 0.0)
        .ok_or_else(|| bad_reply(operation, format!("score {stored:?}")))?;
    Ok(-(value as i64))
}

/// The negated score as Redis is sent it: a decimal integer, which Redis parses to the
/// exact double (every accepted score is within ±2^53).
fn stored(score: i64) -> String {
    score.saturating_neg().to_string()
}

fn entry_of(
    operation: &'static str,
    member: &Value,
    score: &Value,
    rank: u64,
) -> PortResult<LeaderboardEntry> {
    let (ms, user_id) = parse_member(operation, member)?;
    Ok(LeaderboardEntry {
        user_id,
        score: score_of(operation, score)?,
        reached_at: ms_time(ms),
        rank,
    })
}

fn placement_of(item: Value) -> PortResult<Placement> {
    let Value::Array(fields) = item else {
        return Err(bad_reply("apply", format!("{item:?}")));
    };
    let [applied, previous, rank, score, member] = &fields[..] else {
        return Err(bad_reply("apply", format!("{fields:?}")));
    };
    let number = |v: &Value| {
        v.as_i64()
            .ok_or_else(|| bad_reply("apply", format!("number {v:?}")))
    };
    let rank = u64::try_from(number(rank)?).map_err(|_| bad_reply("apply", "negative rank"))?;
    Ok(Placement {
        entry: entry_of("apply", member, score, rank + 1)?,
        previous_rank: u64::try_from(number(previous)?).ok().map(|r| r + 1),
        applied: number(applied)? == 1,
    })
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
        .map(|(i, pair)| entry_of(operation, &pair[0], &pair[1], first + i as u64 + 1))
        .collect()
}

#[async_trait]
impl Leaderboard for RedisLeaderboard {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn ping(&self) -> PortResult<()> {
        self.shared.ping().await
    }

    async fn apply(&self, updates: &[ScoreUpdate]) -> PortResult<Vec<Placement>> {
        check_scores(BACKEND, updates)?;
        // Each board's updates in their order; the boards concurrently.
        let mut boards: Vec<(&str, Vec<usize>)> = Vec::new();
        for (at, update) in updates.iter().enumerate() {
            match boards.iter_mut().find(|(board, _)| *board == update.board) {
                Some((_, indexes)) => indexes.push(at),
                None => boards.push((&update.board, vec![at])),
            }
        }
        let per_board = try_join_all(boards.iter().map(|(_, indexes)| async move {
            let mine: Vec<&ScoreUpdate> = indexes.iter().map(|&at| &updates[at]).collect();
            let mut placements = Vec::with_capacity(mine.len());
            for batch in mine.chunks(MAX_BATCH) {
                placements.extend(self.apply_batch(batch).await?);
            }
            Ok::<_, PortError>(placements)
        }))
        .await?;
        let mut placements: Vec<Option<Placement>> = vec![None; updates.len()];
        for ((_, indexes), board_placements) in boards.iter().zip(per_board) {
            for (&at, placement) in indexes.iter().zip(board_placements) {
                placements[at] = Some(placement);
            }
        }
        placements
            .into_iter()
            .map(|p| p.ok_or_else(|| bad_reply("apply", "one result per update expected")))
            .collect()
    }

    async fn range(&self, board: &str, offset: u64, n: usize) -> PortResult<Vec<LeaderboardEntry>> {
        if n == 0 {
            // `ZRANGE key 0 -1` would be the whole board.
            return Ok(Vec::new());
        }
        let first = i64::try_from(offset).unwrap_or(i64::MAX);
        let last = first.saturating_add(i64::try_from(n - 1).unwrap_or(i64::MAX));
        let reply: Value = self
            .shared
            .pool
            .zrange(self.key(board), first, last, None, false, None, true)
            .await
            .map_err(port_err("range"))?;
        entries_of("range", reply, offset)
    }

    async fn entry(&self, board: &str, user_id: Uuid) -> PortResult<Option<LeaderboardEntry>> {
        let reply = self
            .shared
            .eval(
                "entry",
                &ENTRY,
                vec![self.key(board), self.members_key(board)],
                vec![Value::from(user_id.to_string())],
            )
            .await?;
        let items = match reply {
            Value::Null => return Ok(None),
            Value::Array(items) => items,
            other => return Err(bad_reply("entry", format!("{other:?}"))),
        };
        let [rank, score, member] = &items[..] else {
            return Err(bad_reply("entry", format!("{items:?}")));
        };
        let rank = rank
            .as_u64()
            .ok_or_else(|| bad_reply("entry", format!("rank {rank:?}")))?;
        entry_of("entry", member, score, rank + 1).map(Some)
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
                vec![self.key(board), self.members_key(board)],
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
            .del::<(), _>(vec![
                self.key(board),
                self.members_key(board),
                self.built_key(board),
            ])
            .await
            .map_err(port_err("clear"))
    }

    async fn remove(&self, board: &str, user_id: Uuid) -> PortResult<bool> {
        let reply = self
            .shared
            .eval(
                "remove",
                &REMOVE,
                vec![self.key(board), self.members_key(board)],
                vec![Value::from(user_id.to_string())],
            )
            .await?;
        match reply.as_i64() {
            Some(removed) => Ok(removed == 1),
            None => Err(bad_reply("remove", format!("{reply:?}"))),
        }
    }

    async fn built_at(&self, board: &str) -> PortResult<Option<DateTime<Utc>>> {
        let value: Option<i64> = self
            .shared
            .pool
            .get(self.built_key(board))
            .await
            .map_err(port_err("built_at"))?;
        Ok(value.map(ms_time))
    }

    async fn mark_built(
        &self,
        board: &str,
        at: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> PortResult<()> {
        let expiration = match expires_at {
            Some(expires) if expires <= Utc::now() => {
                // Already past: the board is gone (or about to be) and so is its mark.
                return self
                    .shared
                    .pool
                    .del::<(), _>(self.built_key(board))
                    .await
                    .map_err(port_err("mark_built"));
            }
            Some(expires) => Some(Expiration::PXAT(expires.timestamp_millis())),
            None => None,
        };
        self.shared
            .pool
            .set::<(), _, _>(
                self.built_key(board),
                reached_ms(at),
                expiration,
                None,
                false,
            )
            .await
            .map_err(port_err("mark_built"))
    }

    async fn claim(&self, name: &str, ttl: Duration) -> PortResult<bool> {
        let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        let reply: Value = self
            .shared
            .pool
            .set(
                self.lease_key(name),
                1,
                Some(Expiration::PX(ms)),
                Some(SetOptions::NX),
                false,
            )
            .await
            .map_err(port_err("claim"))?;
        Ok(!matches!(reply, Value::Null))
    }

    async fn release(&self, name: &str) -> PortResult<()> {
        self.shared
            .pool
            .del::<(), _>(self.lease_key(name))
            .await
            .map_err(port_err("release"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_order_by_time_then_user_like_the_sort_key() {
        let early = Uuid::from_u128(0xff);
        let late = Uuid::from_u128(0x01);
        let mut members = vec![
            member(1_700_000_000_001, late),
            member(1_700_000_000_000, early),
            member(1_700_000_000_000, late),
            member(999, early),
        ];
        members.sort();
        assert_eq!(
            members,
            vec![
                member(999, early),
                member(1_700_000_000_000, late),
                member(1_700_000_000_000, early),
                member(1_700_000_000_001, late),
            ]
        );
        let parsed = parse_member("test", &Value::from(member(42, early))).unwrap();
        assert_eq!(parsed, (42, early));
    }

    #[test]
    fn stored_scores_read_back_exactly() {
        for score in [0, 7, 1_000_000_000, crate::ports::leaderboard::MAX_SCORE] {
            for s in [score, -score] {
                let text = Value::from(stored(s));
                assert_eq!(score_of("test", &text).unwrap(), s);
                let double = Value::Double(-(s as f64));
                assert_eq!(score_of("test", &double).unwrap(), s);
            }
        }
    }
}
