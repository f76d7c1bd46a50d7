//! Decorators that observe every call to a port without touching the adapters: each
//! wraps an `Arc<dyn Port>`, delegates every method, and records what the call did.
//!
//! - [`InstrumentedStore`] (`store`): `questpath_store_operations_total{operation,outcome}`
//!   and `questpath_store_operation_duration_seconds{operation}`, plus one tick on the
//!   request-scoped counter behind `questpath_store_queries_per_request` (see
//!   [`count_store_operations`]).
//! - The shared-state ports (`shared`: cache, rate limiter, bus, leaderboard, job queue)
//!   record `questpath_redis_operations_total{port,operation,outcome}` and its latency,
//!   but only when the caller says the wrapped adapter is the Redis one: in-process
//!   adapters are memory operations, and counting them would drown the Redis signal.
//!   [`InstrumentedCache`] also counts reads by cache and result
//!   (`questpath_cache_requests_total`) on any backend, since hit ratios matter on both.
//!
//! `Backends::instrument` applies them all once, in `startup`, before any service is
//! built, so every caller goes through them. A new port method must be added here too
//! (the compiler says so): a decorator cannot delegate what it does not name.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::Metrics;

tokio::task_local! {
    /// Store operations made by the current HTTP request (set by the middleware).
    static STORE_OPERATIONS: Arc<AtomicU32>;
}

/// Runs `future` (an HTTP request) and returns its output with the number of store
/// operations it made. Only calls made on the request's own task are seen: work it
/// hands to an actor or a spawned task is not the request's queries.
pub async fn count_store_operations<F: Future>(future: F) -> (F::Output, u32) {
    let counter = Arc::new(AtomicU32::new(0));
    let output = STORE_OPERATIONS.scope(counter.clone(), future).await;
    (output, counter.load(Ordering::Relaxed))
}

/// Ticks the current request's counter; outside a request (actors, workers) nothing.
pub(super) fn count_store_operation() {
    let _ = STORE_OPERATIONS.try_with(|count| count.fetch_add(1, Ordering::Relaxed));
}

/// Records calls of one shared-state port, when its backend is Redis.
#[derive(Clone)]
struct PortObserver {
    metrics: Arc<Metrics>,
    port: &'static str,
    redis: bool,
}

impl PortObserver {
    fn new(metrics: Arc<Metrics>, port: &'static str, redis: bool) -> Self {
        PortObserver {
            metrics,
            port,
            redis,
        }
    }

    fn observe(&self, operation: &'static str, ok: bool, elapsed: Duration) {
        if self.redis {
            let outcome = if ok { "ok" } else { "error" };
            self.metrics
                .redis_operation(self.port, operation, outcome, elapsed);
        }
    }
}

/// Times a shared-state port call.
macro_rules! timed_port {
    ($self:ident, $operation:literal, $call:expr) => {{
        let started = std::time::Instant::now();
        let result = $call.await;
        $self
            .observer
            .observe($operation, result.is_ok(), started.elapsed());
        result
    }};
}

// Declared after the macros, which they use.
mod shared;
mod store;
// ---- quiz owners (issue 16) ----
mod quiz_owners;
pub use quiz_owners::InstrumentedQuizOwners;

pub use shared::{
    InstrumentedBus, InstrumentedCache, InstrumentedJobQueue, InstrumentedLeaderboard,
    InstrumentedRateLimiter, cache_name,
};
pub use store::InstrumentedStore;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::embedded::EmbeddedStore;
    use crate::metrics::tests::QUEUES;
    use crate::ports::store::{GoalStore, UserStore};
    use uuid::Uuid;

    #[tokio::test]
    async fn store_operations_are_counted_per_request_scope_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(InstrumentedStore::new(
            Arc::new(EmbeddedStore::open(dir.path()).await.unwrap()),
            Arc::new(Metrics::new(QUEUES).unwrap()),
        ));
        let id = Uuid::now_v7();
        // Outside a scope: counted nowhere, and no panic.
        store.user_by_id(id).await.unwrap();
        let inner = store.clone();
        let (found, count) = count_store_operations(async move {
            inner.user_by_id(id).await.unwrap();
            inner.goals_of_user(id, None, 10).await.unwrap();
            inner.user_by_email("nobody@example.org").await.unwrap()
        })
        .await;
        assert_eq!(found, None);
        assert_eq!(count, 3);
        let ((), none) = count_store_operations(async {}).await;
        assert_eq!(none, 0);
    }
}
