//! Calls to the backends: store operations, calls to Redis-backed ports, cache reads.
//! The decorators in [`super::instrumented`] record them.

use std::time::Duration;

use prometheus::{HistogramVec, IntCounterVec, Registry};

use super::Metrics;
use super::collectors::{counter_vec, histogram_vec};

/// Store and Redis calls: sub-millisecond in-process, a few ms over the network.
const DEPENDENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Clone)]
pub(super) struct DependencyMetrics {
    store_operations: IntCounterVec,
    store_duration: HistogramVec,
    redis_operations: IntCounterVec,
    redis_duration: HistogramVec,
    cache_requests: IntCounterVec,
}

impl DependencyMetrics {
    pub(super) fn register(r: &Registry) -> Result<Self, prometheus::Error> {
        Ok(DependencyMetrics {
            store_operations: counter_vec(
                r,
                "questpath_store_operations_total",
                "Store calls, by operation and outcome (ok, conflict, unavailable, error)",
                &["operation", "outcome"],
            )?,
            store_duration: histogram_vec(
                r,
                "questpath_store_operation_duration_seconds",
                "Store call latency, by operation",
                DEPENDENCY_BUCKETS,
                &["operation"],
            )?,
            redis_operations: counter_vec(
                r,
                "questpath_redis_operations_total",
                "Calls to Redis-backed ports (usually one command, script or pipeline each), by port, operation and outcome",
                &["port", "operation", "outcome"],
            )?,
            redis_duration: histogram_vec(
                r,
                "questpath_redis_operation_duration_seconds",
                "Latency of calls to Redis-backed ports, by port and operation",
                DEPENDENCY_BUCKETS,
                &["port", "operation"],
            )?,
            cache_requests: counter_vec(
                r,
                "questpath_cache_requests_total",
                "Cache reads, by cache (key prefix) and result (hit, miss, error)",
                &["cache", "result"],
            )?,
        })
    }
}

impl Metrics {
    /// One store call (`operation` is the port method's name).
    pub fn store_operation(
        &self,
        operation: &'static str,
        outcome: &'static str,
        elapsed: Duration,
    ) {
        let d = &self.dependencies;
        d.store_operations
            .with_label_values(&[operation, outcome])
            .inc();
        d.store_duration
            .with_label_values(&[operation])
            .observe(elapsed.as_secs_f64());
    }

    /// One call to a Redis-backed port.
    pub fn redis_operation(
        &self,
        port: &'static str,
        operation: &'static str,
        outcome: &'static str,
        elapsed: Duration,
    ) {
        let d = &self.dependencies;
        d.redis_operations
            .with_label_values(&[port, operation, outcome])
            .inc();
        d.redis_duration
            .with_label_values(&[port, operation])
            .observe(elapsed.as_secs_f64());
    }

    /// A cache read of `cache` (a key prefix from a bounded set) ended with `result`.
    pub fn cache_request(&self, cache: &str, result: &'static str) {
        self.dependencies
            .cache_requests
            .with_label_values(&[cache, result])
            .inc();
    }
}
