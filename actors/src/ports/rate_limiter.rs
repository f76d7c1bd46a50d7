//! Rate-limiter port: "may this key act now?", with the numbers for the
//! `RateLimit-*` and `Retry-After` headers.

use std::time::Duration;

use async_trait::async_trait;

use super::PortResult;

/// At most `limit` actions per `window`, with a burst of up to `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    pub limit: u32,
    pub window: Duration,
}

impl RateLimit {
    pub const fn per_minute(limit: u32) -> Self {
        RateLimit {
            limit,
            window: Duration::from_secs(60),
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u32,
    /// Actions still allowed right now after this one.
    pub remaining: u32,
    /// Time until the full quota is available again.
    pub reset_after: Duration,
    /// When refused, how long to wait before one action is allowed.
    pub retry_after: Option<Duration>,
}

/// Counts actions per key. A refused check consumes nothing. The algorithm is GCRA
/// (a smooth token bucket), identical in every adapter, so limits hold the same way
/// on one instance and across many sharing Redis.
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    fn backend(&self) -> &'static str;

    async fn ping(&self) -> PortResult<()>;

    /// Checks and, when allowed, records one action for `key` under `limit`.
    async fn check(&self, key: &str, limit: RateLimit) -> PortResult<RateDecision>;
}
