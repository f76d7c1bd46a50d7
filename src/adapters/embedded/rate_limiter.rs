//! In-process GCRA rate limiter, for a single instance without Redis.
//!
//! GCRA is written out by hand rather than taken from `governor`, because the port
//! must report `remaining` and `reset_after`, and the Redis adapter must compute
//! exactly the same numbers in Lua: both use `Gcra` below, in whole microseconds.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use questpath_actors::ports::{PortResult, RateDecision, RateLimit, RateLimiter};

const BACKEND: &str = "in-process";

/// Longest window honoured (ten years): keeps every time in microseconds well
/// below 2^53, where Lua's doubles in the Redis adapter are still exact.
const MAX_WINDOW: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// How often idle keys are dropped. A key whose theoretical arrival time has passed
/// carries no information (it behaves exactly like an absent key), so dropping it is
/// free; sweeping at most this often keeps the cost per check constant on average.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// The GCRA parameters of a [`RateLimit`], shared by both adapters so that they agree
/// to the microsecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gcra {
    /// Time one action "costs": window / limit.
    pub interval_us: u64,
    /// How far ahead of now the theoretical arrival time may run: limit × interval,
    /// which allows a burst of exactly `limit` actions.
    pub burst_us: u64,
}

impl Gcra {
    /// `None` for a zero limit, which refuses everything (see [`refuse_all`]).
    pub fn of(limit: RateLimit) -> Option<Gcra> {
        if limit.limit == 0 {
            return None;
        }
        let window_us = u64::try_from(limit.window.min(MAX_WINDOW).as_micros()).unwrap_or(u64::MAX);
        let interval_us = (window_us / u64::from(limit.limit)).max(1);
        Some(Gcra {
            interval_us,
            burst_us: interval_us * u64::from(limit.limit),
        })
    }

    /// One check at `now_us` against the stored theoretical arrival time `tat_us`.
    /// Returns the decision and, when allowed, the new arrival time to store (a
    /// refused check stores nothing, so it consumes nothing).
    pub fn decide(
        &self,
        limit: u32,
        now_us: u64,
        tat_us: Option<u64>,
    ) -> (RateDecision, Option<u64>) {
        let tat = tat_us.unwrap_or(now_us).max(now_us);
        let new_tat = tat.saturating_add(self.interval_us);
        let ahead = new_tat - now_us;
        if ahead > self.burst_us {
            let decision = RateDecision {
                allowed: false,
                limit,
                remaining: 0,
                reset_after: Duration::from_micros(tat - now_us),
                retry_after: Some(Duration::from_micros(ahead - self.burst_us)),
            };
            return (decision, None);
        }
        let remaining = (self.burst_us - ahead) / self.interval_us;
        let decision = RateDecision {
            allowed: true,
            limit,
            remaining: u32::try_from(remaining).unwrap_or(limit).min(limit),
            reset_after: Duration::from_micros(ahead),
            retry_after: None,
        };
        (decision, Some(new_tat))
    }
}

/// The decision for a zero limit: nothing is ever allowed, so callers are told to come
/// back after a whole window rather than never.
pub(crate) fn refuse_all(limit: RateLimit) -> RateDecision {
    RateDecision {
        allowed: false,
        limit: 0,
        remaining: 0,
        reset_after: Duration::ZERO,
        retry_after: Some(limit.window.min(MAX_WINDOW)),
    }
}

struct State {
    /// Theoretical arrival time per (limit, key), in microseconds since `epoch`.
    /// Different limits on the same key name are separate buckets.
    arrivals: HashMap<(RateLimit, String), u64>,
    last_sweep_us: u64,
}

/// Rate limits of a single instance. Each distinct (limit, key) pair is its own GCRA
/// bucket, exactly as in the Redis adapter; idle buckets are swept so memory follows
/// the number of recently active keys, not every key ever seen.
pub struct InProcessRateLimiter {
    epoch: Instant,
    state: Mutex<State>,
}

impl InProcessRateLimiter {
    /// An empty limiter; buckets appear on first use and are swept once idle.
    pub fn new() -> Self {
        InProcessRateLimiter {
            epoch: Instant::now(),
            state: Mutex::new(State {
                arrivals: HashMap::new(),
                last_sweep_us: 0,
            }),
        }
    }

    fn now_us(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    #[cfg(test)]
    fn tracked_keys(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .arrivals
            .len()
    }
}

impl Default for InProcessRateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl RateLimiter for InProcessRateLimiter {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn ping(&self) -> PortResult<()> {
        Ok(())
    }

    async fn check(&self, key: &str, limit: RateLimit) -> PortResult<RateDecision> {
        let Some(gcra) = Gcra::of(limit) else {
            return Ok(refuse_all(limit));
        };
        let now = self.now_us();
        // The state is plain data: a panic elsewhere cannot leave it inconsistent.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if now.saturating_sub(state.last_sweep_us) >= SWEEP_EVERY.as_micros() as u64 {
            state.arrivals.retain(|_, tat| *tat > now);
            state.last_sweep_us = now;
        }
        let bucket = (limit, key.to_string());
        let (decision, new_tat) =
            gcra.decide(limit.limit, now, state.arrivals.get(&bucket).copied());
        if let Some(tat) = new_tat {
            state.arrivals.insert(bucket, tat);
        }
        Ok(decision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_buckets_are_swept() {
        let mut limiter = InProcessRateLimiter::new();
        let rule = RateLimit {
            limit: 3,
            window: Duration::from_millis(30),
        };
        for key in ["a", "b", "c"] {
            limiter.check(key, rule).await.unwrap();
        }
        assert_eq!(limiter.tracked_keys(), 3);
        // Pretend a sweep period has passed: every bucket above has refilled.
        let Some(earlier) = limiter
            .epoch
            .checked_sub(SWEEP_EVERY + Duration::from_secs(1))
        else {
            return; // the machine has been up for less than that: nothing to test with
        };
        limiter.epoch = earlier;
        let d = limiter.check("d", rule).await.unwrap();
        assert!(d.allowed);
        assert_eq!(
            limiter.tracked_keys(),
            1,
            "only the bucket just used is left"
        );
    }

    #[test]
    fn burst_of_limit_then_refused_with_one_interval() {
        let limit = RateLimit {
            limit: 4,
            window: Duration::from_secs(1),
        };
        let gcra = Gcra::of(limit).unwrap();
        let mut tat = None;
        for expected_remaining in (0..4).rev() {
            let (d, new_tat) = gcra.decide(4, 1_000, tat);
            assert!(d.allowed);
            assert_eq!(d.remaining, expected_remaining);
            tat = new_tat;
        }
        let (d, new_tat) = gcra.decide(4, 1_000, tat);
        assert!(!d.allowed);
        assert_eq!(new_tat, None);
        assert_eq!(d.retry_after, Some(Duration::from_millis(250)));
        assert_eq!(d.reset_after, Duration::from_secs(1));
    }

    #[test]
    fn zero_limit_refuses() {
        assert_eq!(Gcra::of(RateLimit::per_minute(0)), None);
        assert!(!refuse_all(RateLimit::per_minute(0)).allowed);
    }
}
