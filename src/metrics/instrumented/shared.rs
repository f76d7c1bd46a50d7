//! The shared-state ports' decorators: cache, rate limiter, bus, leaderboard and job
//! queue. Each takes `redis`, whether its calls are recorded as Redis operations (the
//! caller knows which adapter it wraps).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::super::Metrics;
use super::PortObserver;
use crate::ports::leaderboard::{LeaderboardEntry, Placement, ScoreUpdate};
use crate::ports::{
    Bus, BusSubscription, Cache, Job, JobQueue, Leaderboard, PortResult, RateDecision, RateLimit,
    RateLimiter,
};

// ---- cache ------------------------------------------------------------------------------

/// A [`Cache`] whose calls are timed (on Redis) and whose reads count hits and misses.
pub struct InstrumentedCache {
    inner: Arc<dyn Cache>,
    observer: PortObserver,
}

impl InstrumentedCache {
    pub fn new(inner: Arc<dyn Cache>, metrics: Arc<Metrics>, redis: bool) -> Self {
        let observer = PortObserver::new(metrics, "cache", redis);
        InstrumentedCache { inner, observer }
    }

    fn count_read<T>(&self, key: &str, result: &PortResult<Option<T>>) {
        let outcome = match result {
            Ok(Some(_)) => "hit",
            Ok(None) => "miss",
            Err(_) => "error",
        };
        self.observer
            .metrics
            .cache_request(cache_name(key), outcome);
    }
}

/// The cache a key belongs to: its prefix before the first `:` (`roadmap`, `stats`,
/// `quiz`, `ws-ticket`...). Prefixes are constants in the code, the part after the colon
/// is the variable one; anything that does not look like a prefix is `other`, so a label
/// can never carry an id.
pub fn cache_name(key: &str) -> &str {
    match key.split_once(':') {
        Some((prefix, _))
            if !prefix.is_empty()
                && prefix.len() <= 24
                && prefix
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_') =>
        {
            prefix
        }
        _ => "other",
    }
}

#[async_trait]
impl Cache for InstrumentedCache {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn ping(&self) -> PortResult<()> {
        timed_port!(self, "ping", self.inner.ping())
    }

    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        let result = timed_port!(self, "get", self.inner.get(key));
        self.count_read(key, &result);
        result
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> PortResult<()> {
        timed_port!(self, "set", self.inner.set(key, value, ttl))
    }

    async fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> PortResult<bool> {
        timed_port!(
            self,
            "set_if_absent",
            self.inner.set_if_absent(key, value, ttl)
        )
    }

    async fn take(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        let result = timed_port!(self, "take", self.inner.take(key));
        self.count_read(key, &result);
        result
    }

    async fn delete(&self, key: &str) -> PortResult<()> {
        timed_port!(self, "delete", self.inner.delete(key))
    }
}

// ---- rate limiter ------------------------------------------------------------------------

/// A [`RateLimiter`] whose calls are timed and counted when it is Redis.
pub struct InstrumentedRateLimiter {
    inner: Arc<dyn RateLimiter>,
    observer: PortObserver,
}

impl InstrumentedRateLimiter {
    pub fn new(inner: Arc<dyn RateLimiter>, metrics: Arc<Metrics>, redis: bool) -> Self {
        let observer = PortObserver::new(metrics, "rate_limiter", redis);
        InstrumentedRateLimiter { inner, observer }
    }
}

#[async_trait]
impl RateLimiter for InstrumentedRateLimiter {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn ping(&self) -> PortResult<()> {
        timed_port!(self, "ping", self.inner.ping())
    }

    async fn check(&self, key: &str, limit: RateLimit) -> PortResult<RateDecision> {
        timed_port!(self, "check", self.inner.check(key, limit))
    }
}

// ---- bus ---------------------------------------------------------------------------------

/// A [`Bus`] whose calls are timed and counted when it is Redis.
pub struct InstrumentedBus {
    inner: Arc<dyn Bus>,
    observer: PortObserver,
}

impl InstrumentedBus {
    pub fn new(inner: Arc<dyn Bus>, metrics: Arc<Metrics>, redis: bool) -> Self {
        let observer = PortObserver::new(metrics, "bus", redis);
        InstrumentedBus { inner, observer }
    }
}

#[async_trait]
impl Bus for InstrumentedBus {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn ping(&self) -> PortResult<()> {
        timed_port!(self, "ping", self.inner.ping())
    }

    async fn publish(&self, topic: &str, payload: &[u8]) -> PortResult<()> {
        timed_port!(self, "publish", self.inner.publish(topic, payload))
    }

    async fn subscribe(&self, topic: &str) -> PortResult<BusSubscription> {
        timed_port!(self, "subscribe", self.inner.subscribe(topic))
    }
}

// ---- leaderboard -------------------------------------------------------------------------

/// A [`Leaderboard`] whose calls are timed and counted when it is Redis.
pub struct InstrumentedLeaderboard {
    inner: Arc<dyn Leaderboard>,
    observer: PortObserver,
}

impl InstrumentedLeaderboard {
    pub fn new(inner: Arc<dyn Leaderboard>, metrics: Arc<Metrics>, redis: bool) -> Self {
        let observer = PortObserver::new(metrics, "leaderboard", redis);
        InstrumentedLeaderboard { inner, observer }
    }
}

#[async_trait]
impl Leaderboard for InstrumentedLeaderboard {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn outlives_process(&self) -> bool {
        self.inner.outlives_process()
    }

    async fn ping(&self) -> PortResult<()> {
        timed_port!(self, "ping", self.inner.ping())
    }

    async fn apply(&self, updates: &[ScoreUpdate]) -> PortResult<Vec<Placement>> {
        timed_port!(self, "apply", self.inner.apply(updates))
    }

    async fn range(&self, board: &str, offset: u64, n: usize) -> PortResult<Vec<LeaderboardEntry>> {
        timed_port!(self, "range", self.inner.range(board, offset, n))
    }

    async fn top(&self, board: &str, n: usize) -> PortResult<Vec<LeaderboardEntry>> {
        timed_port!(self, "top", self.inner.top(board, n))
    }

    async fn entry(&self, board: &str, user_id: Uuid) -> PortResult<Option<LeaderboardEntry>> {
        timed_port!(self, "entry", self.inner.entry(board, user_id))
    }

    async fn around(
        &self,
        board: &str,
        user_id: Uuid,
        k: usize,
    ) -> PortResult<Vec<LeaderboardEntry>> {
        timed_port!(self, "around", self.inner.around(board, user_id, k))
    }

    async fn len(&self, board: &str) -> PortResult<u64> {
        timed_port!(self, "len", self.inner.len(board))
    }

    async fn clear(&self, board: &str) -> PortResult<()> {
        timed_port!(self, "clear", self.inner.clear(board))
    }

    async fn remove(&self, board: &str, user_id: Uuid) -> PortResult<bool> {
        timed_port!(self, "remove", self.inner.remove(board, user_id))
    }

    async fn built_at(&self, board: &str) -> PortResult<Option<DateTime<Utc>>> {
        timed_port!(self, "built_at", self.inner.built_at(board))
    }

    async fn mark_built(
        &self,
        board: &str,
        at: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> PortResult<()> {
        timed_port!(
            self,
            "mark_built",
            self.inner.mark_built(board, at, expires_at)
        )
    }

    async fn claim(&self, name: &str, ttl: Duration) -> PortResult<bool> {
        timed_port!(self, "claim", self.inner.claim(name, ttl))
    }

    async fn release(&self, name: &str) -> PortResult<()> {
        timed_port!(self, "release", self.inner.release(name))
    }
}

// ---- job queue ---------------------------------------------------------------------------

/// A [`JobQueue`] whose calls are timed and counted when it is Redis.
pub struct InstrumentedJobQueue {
    inner: Arc<dyn JobQueue>,
    observer: PortObserver,
}

impl InstrumentedJobQueue {
    pub fn new(inner: Arc<dyn JobQueue>, metrics: Arc<Metrics>, redis: bool) -> Self {
        let observer = PortObserver::new(metrics, "job_queue", redis);
        InstrumentedJobQueue { inner, observer }
    }
}

#[async_trait]
impl JobQueue for InstrumentedJobQueue {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn ping(&self) -> PortResult<()> {
        timed_port!(self, "ping", self.inner.ping())
    }

    async fn enqueue(&self, queue: &str, payload: &[u8]) -> PortResult<String> {
        timed_port!(self, "enqueue", self.inner.enqueue(queue, payload))
    }

    async fn claim(&self, queue: &str, consumer: &str, wait: Duration) -> PortResult<Option<Job>> {
        timed_port!(self, "claim", self.inner.claim(queue, consumer, wait))
    }

    async fn ack(&self, job: &Job) -> PortResult<()> {
        timed_port!(self, "ack", self.inner.ack(job))
    }

    async fn retry(&self, job: &Job, delay: Duration, reason: &str) -> PortResult<bool> {
        timed_port!(self, "retry", self.inner.retry(job, delay, reason))
    }

    async fn depth(&self, queue: &str) -> PortResult<u64> {
        timed_port!(self, "depth", self.inner.depth(queue))
    }

    async fn dead_letters(&self, queue: &str, limit: usize) -> PortResult<Vec<(Job, String)>> {
        timed_port!(self, "dead_letters", self.inner.dead_letters(queue, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::embedded::InProcessCache;
    use crate::metrics::tests::metrics;
    use crate::ports::PortError;

    #[tokio::test]
    async fn cache_reads_count_hits_and_misses_by_prefix_and_skip_redis_metrics_in_process() {
        let m = Arc::new(metrics());
        let cache = InstrumentedCache::new(Arc::new(InProcessCache::new()), m.clone(), false);
        let ttl = Duration::from_secs(60);
        cache.set("roadmap:1", b"x", ttl).await.unwrap();
        assert!(cache.get("roadmap:1").await.unwrap().is_some());
        assert!(cache.get("roadmap:2").await.unwrap().is_none());
        cache.set("ws-ticket:abc", b"u", ttl).await.unwrap();
        assert!(cache.take("ws-ticket:abc").await.unwrap().is_some());
        assert!(cache.take("ws-ticket:abc").await.unwrap().is_none());

        let text = m.render();
        for expected in [
            r#"questpath_cache_requests_total{cache="roadmap",result="hit"} 1"#,
            r#"questpath_cache_requests_total{cache="roadmap",result="miss"} 1"#,
            r#"questpath_cache_requests_total{cache="ws-ticket",result="hit"} 1"#,
            r#"questpath_cache_requests_total{cache="ws-ticket",result="miss"} 1"#,
        ] {
            assert!(text.contains(expected), "missing {expected}:\n{text}");
        }
        assert!(
            !text.contains("questpath_redis_operations_total{"),
            "{text}"
        );
    }

    /// A cache that says it is Redis and fails every call.
    struct BrokenRedisCache;

    #[async_trait]
    impl Cache for BrokenRedisCache {
        fn backend(&self) -> &'static str {
            "redis"
        }
        async fn ping(&self) -> PortResult<()> {
            Ok(())
        }
        async fn get(&self, _: &str) -> PortResult<Option<Vec<u8>>> {
            Err(PortError::new("redis", "get", "connection refused"))
        }
        async fn set(&self, _: &str, _: &[u8], _: Duration) -> PortResult<()> {
            Ok(())
        }
        async fn set_if_absent(&self, _: &str, _: &[u8], _: Duration) -> PortResult<bool> {
            Ok(true)
        }
        async fn take(&self, _: &str) -> PortResult<Option<Vec<u8>>> {
            Ok(None)
        }
        async fn delete(&self, _: &str) -> PortResult<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn redis_backed_ports_count_operations_with_outcome_and_latency() {
        let m = Arc::new(metrics());
        let cache = InstrumentedCache::new(Arc::new(BrokenRedisCache), m.clone(), true);
        assert!(cache.get("stats:u1").await.is_err());
        cache.ping().await.unwrap();
        assert_eq!(cache.backend(), "redis");

        let text = m.render();
        for expected in [
            r#"questpath_redis_operations_total{operation="get",outcome="error",port="cache"} 1"#,
            r#"questpath_redis_operations_total{operation="ping",outcome="ok",port="cache"} 1"#,
            r#"questpath_redis_operation_duration_seconds_count{operation="get",port="cache"} 1"#,
            r#"questpath_cache_requests_total{cache="stats",result="error"} 1"#,
        ] {
            assert!(text.contains(expected), "missing {expected}:\n{text}");
        }
    }

    #[test]
    fn cache_names_are_bounded_prefixes() {
        assert_eq!(cache_name("roadmap:0190-abc"), "roadmap");
        assert_eq!(cache_name("ws-ticket:ab12"), "ws-ticket");
        assert_eq!(cache_name("legacy-quiz:u:l"), "legacy-quiz");
        assert_eq!(cache_name("no-colon-at-all"), "other");
        assert_eq!(cache_name("User@Example.org:x"), "other");
        assert_eq!(cache_name(":x"), "other");
        assert_eq!(cache_name(&format!("{}:x", "a".repeat(40))), "other");
    }
}
