//! GCRA rate limiter on Redis: one Lua script per check, timed by the Redis clock so
//! that instances with skewed clocks still share one consistent limit.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::*;
use fred::types::scripts::Script;

use super::{BACKEND, Shared, bad_reply};
use crate::adapters::embedded::rate_limiter::{Gcra, refuse_all};
use questpath_actors::ports::{PortResult, RateDecision, RateLimit, RateLimiter};

/// The same arithmetic as [`Gcra::decide`], in whole microseconds (exact in Lua's
/// doubles below 2^53). The key holds the theoretical arrival time and expires when
/// it has passed, since an expired key and a passed time mean the same: full quota.
/// A refused check writes nothing.
///
/// KEYS[1] bucket; ARGV[1] interval µs, ARGV[2] burst µs.
/// Returns {allowed 0/1, remaining, reset_after µs, retry_after µs}.
const GCRA_LUA: &str = r#"
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now) or now
if tat < now then tat = now end
local new_tat = tat + interval
local ahead = new_tat - now
if ahead > burst then
  return {0, 0, tat - now, ahead - burst}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', string.format('%d', math.ceil(ahead / 1000)))
return {1, math.floor((burst - ahead) / interval), ahead, 0}
"#;

static GCRA: LazyLock<Script> = LazyLock::new(|| Script::from_lua(GCRA_LUA));

/// The rate limiter on Redis. Like the in-process one, each distinct (limit, key) pair
/// is its own bucket: the limit is part of the Redis key, so two limits applied to the
/// same key name never consume each other's quota.
#[derive(Clone)]
pub struct RedisRateLimiter {
    shared: Arc<Shared>,
}

impl RedisRateLimiter {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        RedisRateLimiter { shared }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn ping(&self) -> PortResult<()> {
        self.shared.ping().await
    }

    async fn check(&self, key: &str, limit: RateLimit) -> PortResult<RateDecision> {
        let Some(gcra) = Gcra::of(limit) else {
            return Ok(refuse_all(limit));
        };
        let bucket = self.shared.key(
            "rl",
            &format!("{}:{}:{key}", limit.limit, limit.window.as_micros()),
        );
        let reply = self
            .shared
            .eval(
                "check",
                &GCRA,
                vec![bucket],
                vec![
                    Value::from(gcra.interval_us as i64),
                    Value::from(gcra.burst_us as i64),
                ],
            )
            .await?;
        let numbers: Vec<u64> = match reply {
            Value::Array(items) => items.iter().filter_map(Value::as_u64).collect(),
            other => return Err(bad_reply("check", format!("{other:?}"))),
        };
        let [allowed, remaining, reset_us, retry_us] = numbers[..] else {
            return Err(bad_reply("check", format!("{numbers:?}")));
        };
        let allowed = allowed == 1;
        Ok(RateDecision {
            allowed,
            limit: limit.limit,
            remaining: u32::try_from(remaining)
                .unwrap_or(limit.limit)
                .min(limit.limit),
            reset_after: Duration::from_micros(reset_us),
            retry_after: (!allowed).then(|| Duration::from_micros(retry_us)),
        })
    }
}
