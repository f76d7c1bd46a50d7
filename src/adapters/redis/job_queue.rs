//! Job queue on Redis Streams, durable across instances and restarts (as far as the
//! Redis persistence settings allow).
//!
//! Per queue `q` (keys under the prefix; `{jobs:q}` is the hash tag that keeps them in one
//! cluster slot):
//! - `{jobs:q}`: the stream of ready and claimed jobs, read through the consumer group
//!   `workers`; its pending entries list holds the claimed ones with their idle time.
//!   Entry fields: `id` (the job id, stable across attempts), `payload`, `attempt`
//!   (the attempt at which the entry was added).
//! - `{jobs:q}:entries`: hash job id → current stream entry id, so `ack` and `retry`
//!   find the entry from the job id alone.
//! - `{jobs:q}:delayed` (sorted set, score = due time in ms of the Redis clock) and
//!   `{jobs:q}:delayed:data` (hash job id → `attempt:payload`): retries waiting for
//!   their delay. Due ones are moved to the stream by the next claim.
//! - `{jobs:q}:dead`: dead-letter stream (fields `id`, `payload`, `attempt`, `reason`),
//!   trimmed to about 10 000 entries.
//!
//! A claimed entry's attempt is its `attempt` field plus the times it was reclaimed
//! (the stream's delivery count minus one), so a job whose worker keeps dying still
//! reaches the dead letters. Every multi-key step runs in one Lua script, so a crash
//! of the caller never leaves a job half-moved.
//!
//! Any queue name works: a stream key ends in `}` and no suffix above ends another, so
//! two queues' keys never collide (the old `jobs:q:dead`-style names could).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use fred::prelude::*;
use fred::types::scripts::Script;
use uuid::Uuid;

use super::{BACKEND, Shared, bad_reply, port_err};
use crate::adapters::embedded::job_queue::{
    ABANDONED_REASON, DEFAULT_MAX_ATTEMPTS, DEFAULT_VISIBILITY_TIMEOUT, MAX_DEAD_LETTERS,
    MAX_DURATION,
};
use questpath_actors::ports::{Job, JobQueue, PortError, PortResult};

const GROUP: &str = "workers";

/// Longest single `XREADGROUP BLOCK`: between two blocks the claim script runs again,
/// which promotes due retries and reclaims abandoned jobs (neither wakes a blocked read).
const BLOCK_SLICE: Duration = Duration::from_millis(500);
/// Pause between polls when every blocking connection is busy.
const POLL_PAUSE: Duration = Duration::from_millis(100);

/// Shared Lua helpers, prepended to the scripts that need them.
const LUA_COMMON: &str = r#"
local function fields_of(list)
  local f = {}
  for i = 1, #list, 2 do f[list[i]] = list[i + 1] end
  return f
end
-- Integers as decimal strings: Redis may print large Lua numbers in exponent form.
local function int(n)
  return string.format('%d', n)
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function ensure_group(stream, group)
  -- BUSYGROUP (it exists already) is the usual answer and is fine.
  redis.pcall('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
end
local function add_entry(stream, entries, id, payload, attempt)
  local eid = redis.call('XADD', stream, '*', 'id', id, 'payload', payload, 'attempt', attempt)
  redis.call('HSET', entries, id, eid)
  return eid
end
local function drop_entry(stream, entries, group, eid, id)
  redis.call('XACK', stream, group, eid)
  redis.call('XDEL', stream, eid)
  redis.call('HDEL', entries, id)
end
"#;

/// KEYS stream, entries; ARGV group, job id, payload. Returns the stream entry id.
const ENQUEUE_LUA: &str = r#"
ensure_group(KEYS[1], ARGV[1])
return add_entry(KEYS[1], KEYS[2], ARGV[2], ARGV[3], 1)
"#;

/// One non-blocking claim: promote due retries, reclaim the longest-abandoned job
/// (dead-lettering those past their last attempt), else read the next new entry.
/// KEYS stream, delayed, delayed data, entries, dead;
/// ARGV group, consumer, visibility ms, max attempts, dead-letter cap, reason.
/// Returns {1, job id, payload, attempt}, or {0, ms until the next delayed job is due
/// (-1 if none)}.
const CLAIM_LUA: &str = r#"
local stream, delayed, data, entries, dead = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local group, consumer = ARGV[1], ARGV[2]
local visibility, max_attempts = ARGV[3], tonumber(ARGV[4])
ensure_group(stream, group)

for _, id in ipairs(redis.call('ZRANGEBYSCORE', delayed, '-inf', int(now_ms()), 'LIMIT', 0, 100)) do
  local v = redis.call('HGET', data, id)
  if v then
    local sep = string.find(v, ':', 1, true)
    add_entry(stream, entries, id, string.sub(v, sep + 1), string.sub(v, 1, sep - 1))
  end
  redis.call('HDEL', data, id)
  redis.call('ZREM', delayed, id)
end

local cursor = '0-0'
for _ = 1, 1000 do
  local r = redis.call('XAUTOCLAIM', stream, group, consumer, visibility, cursor, 'COUNT', 1)
  cursor = r[1]
  local claimed = r[2][1]
  if claimed then
    local eid = claimed[1]
    if type(claimed[2]) ~= 'table' then
      -- Entry deleted while pending (Redis 6.2 reports these): forget it.
      redis.call('XACK', stream, group, eid)
    else
      local f = fields_of(claimed[2])
      local pending = redis.call('XPENDING', stream, group, eid, eid, 1)
      local attempt = tonumber(f['attempt']) + tonumber(pending[1][4]) - 1
      if attempt <= max_attempts then
        return {1, f['id'], f['payload'], attempt}
      end
      redis.call('XADD', dead, 'MAXLEN', '~', ARGV[5], '*',
        'id', f['id'], 'payload', f['payload'], 'attempt', int(attempt - 1), 'reason', ARGV[6])
      drop_entry(stream, entries, group, eid, f['id'])
    end
  end
  if cursor == '0-0' then break end
end

local r = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', 1, 'STREAMS', stream, '>')
if r then
  local entry = r[1][2][1]
  if entry then
    local f = fields_of(entry[2])
    return {1, f['id'], f['payload'], tonumber(f['attempt'])}
  end
end
local next_due = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')[2]
if next_due then
  local wait = tonumber(next_due) - now_ms()
  if wait < 0 then wait = 0 end
  return {0, wait}
end
return {0, -1}
"#;

/// KEYS stream, entries; ARGV group, job id. Returns 1 if a job was removed.
const ACK_LUA: &str = r#"
local eid = redis.call('HGET', KEYS[2], ARGV[2])
if not eid then return 0 end
drop_entry(KEYS[1], KEYS[2], ARGV[1], eid, ARGV[2])
return 1
"#;

/// KEYS stream, delayed, delayed data, entries, dead;
/// ARGV group, job id, claimed attempt, delay ms, reason, max attempts, dead-letter cap.
/// Returns 1 requeued, 0 dead-lettered, -1 not claimed at that attempt.
const RETRY_LUA: &str = r#"
local stream, delayed, data, entries, dead = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local group, id = ARGV[1], ARGV[2]
local eid = redis.call('HGET', entries, id)
if not eid then return -1 end
local pending = redis.call('XPENDING', stream, group, eid, eid, 1)
if #pending == 0 then return -1 end
local found = redis.call('XRANGE', stream, eid, eid)
if #found == 0 then return -1 end
local f = fields_of(found[1][2])
local attempt = tonumber(f['attempt']) + tonumber(pending[1][4]) - 1
if attempt ~= tonumber(ARGV[3]) then return -1 end
drop_entry(stream, entries, group, eid, id)
if attempt >= tonumber(ARGV[6]) then
  redis.call('XADD', dead, 'MAXLEN', '~', ARGV[7], '*',
    'id', id, 'payload', f['payload'], 'attempt', int(attempt), 'reason', ARGV[5])
  return 0
end
local delay = tonumber(ARGV[4])
if delay <= 0 then
  add_entry(stream, entries, id, f['payload'], int(attempt + 1))
else
  redis.call('ZADD', delayed, int(now_ms() + delay), id)
  redis.call('HSET', data, id, int(attempt + 1) .. ':' .. f['payload'])
end
return 1
"#;

/// Waiting jobs: stream entries not pending for any consumer, plus delayed retries.
/// KEYS stream, delayed; ARGV group.
const DEPTH_LUA: &str = r#"
local len = redis.call('XLEN', KEYS[1])
local pending = 0
local summary = redis.pcall('XPENDING', KEYS[1], ARGV[1])
if type(summary) == 'table' and summary.err == nil then pending = tonumber(summary[1]) end
return len - pending + redis.call('ZCARD', KEYS[2])
"#;

fn with_common(body: &str) -> Script {
    Script::from_lua(format!("{LUA_COMMON}{body}"))
}

static ENQUEUE: LazyLock<Script> = LazyLock::new(|| with_common(ENQUEUE_LUA));
static CLAIM: LazyLock<Script> = LazyLock::new(|| with_common(CLAIM_LUA));
static ACK: LazyLock<Script> = LazyLock::new(|| with_common(ACK_LUA));
static RETRY: LazyLock<Script> = LazyLock::new(|| with_common(RETRY_LUA));
static DEPTH: LazyLock<Script> = LazyLock::new(|| Script::from_lua(DEPTH_LUA));

/// What one pass of the claim script found.
enum Claimed {
    Job(Job),
    /// Nothing claimable now; when the next delayed retry falls due, if any.
    Nothing {
        next_due: Option<Duration>,
    },
}

/// The keys of one queue.
struct Keys {
    stream: String,
    delayed: String,
    delayed_data: String,
    entries: String,
    dead: String,
}

/// Job queues shared by every instance. Claimed jobs not acknowledged within the
/// visibility timeout are reclaimed by the next claim of any worker.
#[derive(Clone)]
pub struct RedisJobQueue {
    shared: Arc<Shared>,
    visibility_timeout: Duration,
    max_attempts: u32,
}

impl RedisJobQueue {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        RedisJobQueue {
            shared,
            visibility_timeout: DEFAULT_VISIBILITY_TIMEOUT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }

    /// How long a claimed job may go unacknowledged before it is handed out again.
    /// It should exceed the longest job, or slow jobs run twice. All instances sharing
    /// a queue should use the same value.
    pub fn with_visibility_timeout(mut self, timeout: Duration) -> Self {
        // At least a millisecond: XAUTOCLAIM counts idle time in whole milliseconds.
        self.visibility_timeout = timeout.clamp(Duration::from_millis(1), MAX_DURATION);
        self
    }

    /// Attempts (at least one) before a job goes to the dead letters.
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    fn keys(&self, queue: &str) -> Keys {
        // One hash tag (`{jobs:queue}`) for the queue's keys: its scripts touch them all.
        let stream = self.shared.tagged("jobs", queue);
        Keys {
            delayed: format!("{stream}:delayed"),
            delayed_data: format!("{stream}:delayed:data"),
            entries: format!("{stream}:entries"),
            dead: format!("{stream}:dead"),
            stream,
        }
    }

    /// One pass of the claim script: a job if one is available right now, else how
    /// long until the next delayed retry falls due (if there is one).
    async fn claim_now(&self, queue: &str, consumer: &str) -> PortResult<Claimed> {
        let keys = self.keys(queue);
        let reply = self
            .shared
            .eval(
                "claim",
                &CLAIM,
                vec![
                    keys.stream,
                    keys.delayed,
                    keys.delayed_data,
                    keys.entries,
                    keys.dead,
                ],
                vec![
                    Value::from(GROUP),
                    Value::from(consumer),
                    Value::from(millis(self.visibility_timeout)),
                    Value::from(i64::from(self.max_attempts)),
                    Value::from(MAX_DEAD_LETTERS as i64),
                    Value::from(ABANDONED_REASON),
                ],
            )
            .await?;
        let mut items = reply.into_array();
        match items.first().and_then(Value::as_i64) {
            Some(0) if items.len() == 2 => {
                let next_due = items[1].as_i64().and_then(|ms| u64::try_from(ms).ok());
                return Ok(Claimed::Nothing {
                    next_due: next_due.map(Duration::from_millis),
                });
            }
            Some(1) if items.len() == 4 => {}
            _ => return Err(bad_reply("claim", format!("{items:?}"))),
        }
        let attempt = items[3].as_u64().and_then(|a| u32::try_from(a).ok());
        let payload = std::mem::replace(&mut items[2], Value::Null).into_owned_bytes();
        let id = items[1].as_string();
        match (id, payload, attempt) {
            (Some(id), Some(payload), Some(attempt)) => Ok(Claimed::Job(Job {
                id,
                queue: queue.to_string(),
                payload,
                attempt,
            })),
            _ => Err(bad_reply("claim", format!("{items:?}"))),
        }
    }

    /// Waits up to `block` for a new entry on a dedicated connection. `Ok(None)` when
    /// nothing arrived, or when every blocking connection is in use (after a short
    /// pause, so the caller polls instead).
    async fn wait_for_entry(
        &self,
        queue: &str,
        consumer: &str,
        block: Duration,
    ) -> PortResult<Option<Job>> {
        let client = self
            .shared
            .blocking
            .clients()
            .iter()
            .find_map(|client| Arc::clone(client).try_lock_owned().ok());
        let Some(client) = client else {
            tokio::time::sleep(block.min(POLL_PAUSE)).await;
            return Ok(None);
        };
        let block_ms = u64::try_from(block.as_millis()).unwrap_or(u64::MAX).max(1);
        let reply: Value = client
            .xreadgroup(
                GROUP,
                consumer,
                Some(1),
                Some(block_ms),
                false,
                self.keys(queue).stream,
                ">",
            )
            .await
            .map_err(port_err("claim"))?;
        drop(client);
        parse_read_reply(queue, reply)
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Field name → value of a stream entry's flat field list.
fn fields_of(list: Value) -> HashMap<String, Value> {
    let mut fields = HashMap::new();
    let mut items = list.into_array().into_iter();
    while let (Some(name), Some(value)) = (items.next(), items.next()) {
        if let Some(name) = name.as_string() {
            fields.insert(name, value);
        }
    }
    fields
}

/// A stream entry `[entry id, [field, value, ...]]` as a job, `None` if malformed.
fn job_of(queue: &str, entry: Value) -> Option<(Job, HashMap<String, Value>)> {
    let mut parts = entry.into_array().into_iter();
    let _entry_id = parts.next()?;
    let mut fields = fields_of(parts.next()?);
    let job = Job {
        id: fields.get("id")?.as_string()?,
        queue: queue.to_string(),
        payload: fields.remove("payload")?.into_owned_bytes()?,
        attempt: fields
            .get("attempt")?
            .as_u64()
            .and_then(|a| u32::try_from(a).ok())?,
    };
    Some((job, fields))
}

/// The reply of `XREADGROUP ... COUNT 1 STREAMS key >`:
/// `[[stream, [[entry id, [fields]]]]]` (RESP2), or nil on timeout.
fn parse_read_reply(queue: &str, reply: Value) -> PortResult<Option<Job>> {
    if reply.is_null() {
        return Ok(None);
    }
    let malformed = || bad_reply("claim", "malformed XREADGROUP reply");
    let stream = reply
        .into_array()
        .into_iter()
        .next()
        .ok_or_else(malformed)?;
    let entries = stream
        .into_array()
        .into_iter()
        .nth(1)
        .ok_or_else(malformed)?;
    match entries.into_array().into_iter().next() {
        None => Ok(None),
        Some(entry) => job_of(queue, entry)
            .map(|(job, _)| Some(job))
            .ok_or_else(malformed),
    }
}

#[async_trait]
impl JobQueue for RedisJobQueue {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn ping(&self) -> PortResult<()> {
        self.shared.ping().await
    }

    async fn enqueue(&self, queue: &str, payload: &[u8]) -> PortResult<String> {
        let id = Uuid::now_v7().to_string();
        let keys = self.keys(queue);
        self.shared
            .eval(
                "enqueue",
                &ENQUEUE,
                vec![keys.stream, keys.entries],
                vec![
                    Value::from(GROUP),
                    Value::from(id.as_str()),
                    Value::from(payload),
                ],
            )
            .await?;
        Ok(id)
    }

    async fn claim(&self, queue: &str, consumer: &str, wait: Duration) -> PortResult<Option<Job>> {
        let deadline = Instant::now() + wait.min(MAX_DURATION);
        loop {
            let next_due = match self.claim_now(queue, consumer).await? {
                Claimed::Job(job) => return Ok(Some(job)),
                Claimed::Nothing { next_due } => next_due,
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            // Wake for a new entry, for the next due retry, or to look for abandoned
            // jobs, whichever comes first.
            let mut block = left.min(BLOCK_SLICE);
            if let Some(due) = next_due {
                block = block.min(due.max(Duration::from_millis(1)));
            }
            if let Some(job) = self.wait_for_entry(queue, consumer, block).await? {
                return Ok(Some(job));
            }
        }
    }

    async fn ack(&self, job: &Job) -> PortResult<()> {
        let keys = self.keys(&job.queue);
        self.shared
            .eval(
                "ack",
                &ACK,
                vec![keys.stream, keys.entries],
                vec![Value::from(GROUP), Value::from(job.id.as_str())],
            )
            .await?;
        Ok(())
    }

    async fn retry(&self, job: &Job, delay: Duration, reason: &str) -> PortResult<bool> {
        let keys = self.keys(&job.queue);
        let reply = self
            .shared
            .eval(
                "retry",
                &RETRY,
                vec![
                    keys.stream,
                    keys.delayed,
                    keys.delayed_data,
                    keys.entries,
                    keys.dead,
                ],
                vec![
                    Value::from(GROUP),
                    Value::from(job.id.as_str()),
                    Value::from(i64::from(job.attempt)),
                    Value::from(millis(delay.min(MAX_DURATION))),
                    Value::from(reason),
                    Value::from(i64::from(self.max_attempts)),
                    Value::from(MAX_DEAD_LETTERS as i64),
                ],
            )
            .await?;
        match reply.as_i64() {
            Some(1) => Ok(true),
            Some(0) => Ok(false),
            Some(-1) => Err(PortError::new(
                BACKEND,
                "retry",
                format!(
                    "job {} attempt {} is not claimed (acknowledged, retried or reclaimed already)",
                    job.id, job.attempt
                ),
            )),
            _ => Err(bad_reply("retry", format!("{reply:?}"))),
        }
    }

    /// Counts stream entries not claimed by any worker plus delayed retries. Claimed
    /// jobs past their visibility timeout are not counted until they are reclaimed.
    async fn depth(&self, queue: &str) -> PortResult<u64> {
        let keys = self.keys(queue);
        let reply = self
            .shared
            .eval(
                "depth",
                &DEPTH,
                vec![keys.stream, keys.delayed],
                vec![Value::from(GROUP)],
            )
            .await?;
        reply
            .as_i64()
            .map(|n| n.max(0) as u64)
            .ok_or_else(|| bad_reply("depth", format!("{reply:?}")))
    }

    async fn dead_letters(&self, queue: &str, limit: usize) -> PortResult<Vec<(Job, String)>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let reply: Value = self
            .shared
            .pool
            .xrange(self.keys(queue).dead, "-", "+", Some(limit as u64))
            .await
            .map_err(port_err("dead_letters"))?;
        reply
            .into_array()
            .into_iter()
            .map(|entry| {
                let (job, mut fields) = job_of(queue, entry)
                    .ok_or_else(|| bad_reply("dead_letters", "malformed entry"))?;
                let reason = fields
                    .remove("reason")
                    .and_then(Value::into_string)
                    .unwrap_or_default();
                Ok((job, reason))
            })
            .collect()
    }
}
