//! Builders of each adapter under test, isolated per test (own keyspace, own key prefix).

#![allow(dead_code)]

use std::sync::Arc;

use questpath::adapters::embedded::EmbeddedStore;
use questpath::adapters::scylla::ScyllaStore;
use questpath::config::{RedisSettings, ScyllaSettings};
use questpath::ports::Store;
use questpath_test_support::{cql, scylla_nodes};

/// Generates one `#[tokio::test]` per (adapter, case): `adapter_mod { make_expr }` and a
/// list of async case functions in the calling module taking the adapter's port object.
#[macro_export]
macro_rules! conformance {
    ($($adapter:ident => $make:expr),+ ; $cases:tt) => {
        $( $crate::conformance!(@adapter $adapter, $make, $cases); )+
    };
    (@adapter $adapter:ident, $make:expr, [$($case:ident),+ $(,)?]) => {
        mod $adapter {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    $crate::common::with_cleanup(async {
                        let port = $make.await;
                        super::$case(port).await;
                    })
                    .await;
                }
            )+
        }
    };
}

tokio::task_local! {
    /// Keyspaces the running test created, dropped when it ends.
    static KEYSPACES: std::cell::RefCell<Vec<String>>;
}

/// Runs one test body, then drops the CQL keyspaces it created. A test that panics
/// leaves its keyspace to the stale sweep.
pub async fn with_cleanup(body: impl std::future::Future<Output = ()>) {
    KEYSPACES
        .scope(std::cell::RefCell::new(Vec::new()), async {
            body.await;
            let created = KEYSPACES.with(|k| k.take());
            if !created.is_empty() {
                let nodes = scylla_nodes();
                for keyspace in created {
                    cql::drop_keyspace(&nodes, &keyspace).await;
                }
            }
        })
        .await;
}

/// A name no other test uses, valid as a CQL keyspace and a Redis key prefix.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// Redis settings with a prefix of this test's own.
pub fn redis_settings() -> RedisSettings {
    questpath_test_support::redis_settings(&format!("{}:", unique_name("test")))
}

/// ScyllaDB settings with a keyspace of this test's own.
pub fn scylla_settings() -> ScyllaSettings {
    questpath_test_support::scylla_settings(&cql::keyspace_name("test"))
}

/// A fresh embedded store in a temporary folder that lives as long as the store.
pub async fn embedded_store() -> Arc<dyn Store> {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(dir.path())
        .await
        .expect("open embedded store");
    // The folder must outlive the store; leak it for the test's lifetime.
    std::mem::forget(dir);
    Arc::new(store)
}

/// A migrated keyspace of this test's own on the test CQL server.
pub async fn scylla_store() -> Arc<dyn Store> {
    let settings = scylla_settings();
    cql::sweep_stale(&settings.nodes.join(",")).await;
    scylla_store_with(&settings).await
}

/// A store on `settings`' keyspace, migrated first; the keyspace is dropped when the
/// test ends.
pub async fn scylla_store_with(settings: &ScyllaSettings) -> Arc<dyn Store> {
    let _ = KEYSPACES.try_with(|k| k.borrow_mut().push(settings.keyspace.clone()));
    // Boxed: the driver's connect runs deep, and a test thread's stack is 2 MiB.
    Box::pin(questpath::adapters::scylla::migrate(settings))
        .await
        .expect("migrate test keyspace");
    let store = Box::pin(ScyllaStore::connect(settings))
        .await
        .expect("connect to CQL server");
    Arc::new(store)
}

// ---- shared-state ports (cache, rate limiter, bus, leaderboard, job queue) ----

use std::time::Duration;

use questpath::adapters::embedded::{
    InProcessBus, InProcessCache, InProcessJobQueue, InProcessLeaderboard, InProcessRateLimiter,
};
use questpath::adapters::redis::Redis;
use questpath::ports::{Bus, Cache, JobQueue, Leaderboard, RateLimiter};

/// Visibility timeout of the job queues under test: short, so reclaiming is testable.
pub const TEST_VISIBILITY_TIMEOUT: Duration = Duration::from_millis(500);
/// Attempts of the job queues under test.
pub const TEST_MAX_ATTEMPTS: u32 = 3;

/// A connection to the test Redis under a prefix of this test's own.
pub async fn redis() -> Redis {
    Redis::connect(&redis_settings())
        .await
        .expect("connect to the test Redis")
}

pub async fn in_process_cache() -> Arc<dyn Cache> {
    Arc::new(InProcessCache::new())
}

pub async fn redis_cache() -> Arc<dyn Cache> {
    Arc::new(redis().await.cache())
}

pub async fn in_process_rate_limiter() -> Arc<dyn RateLimiter> {
    Arc::new(InProcessRateLimiter::new())
}

pub async fn redis_rate_limiter() -> Arc<dyn RateLimiter> {
    Arc::new(redis().await.rate_limiter())
}

/// Two handles on one bus as two server instances would have them: the same
/// in-process bus twice, or two separate Redis connections sharing a prefix.
pub struct BusPair {
    pub first: Arc<dyn Bus>,
    pub second: Arc<dyn Bus>,
}

pub async fn in_process_buses() -> BusPair {
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new());
    BusPair {
        first: Arc::clone(&bus),
        second: bus,
    }
}

pub async fn redis_buses() -> BusPair {
    let settings = redis_settings();
    let first = Redis::connect(&settings)
        .await
        .expect("connect first instance");
    let second = Redis::connect(&settings)
        .await
        .expect("connect second instance");
    BusPair {
        first: Arc::new(first.bus()),
        second: Arc::new(second.bus()),
    }
}

pub async fn in_process_leaderboard() -> Arc<dyn Leaderboard> {
    Arc::new(InProcessLeaderboard::new())
}

pub async fn redis_leaderboard() -> Arc<dyn Leaderboard> {
    Arc::new(redis().await.leaderboard())
}

pub async fn in_process_job_queue() -> Arc<dyn JobQueue> {
    Arc::new(
        InProcessJobQueue::new()
            .with_visibility_timeout(TEST_VISIBILITY_TIMEOUT)
            .with_max_attempts(TEST_MAX_ATTEMPTS),
    )
}

pub async fn redis_job_queue() -> Arc<dyn JobQueue> {
    Arc::new(
        redis()
            .await
            .job_queue()
            .with_visibility_timeout(TEST_VISIBILITY_TIMEOUT)
            .with_max_attempts(TEST_MAX_ATTEMPTS),
    )
}

// ---- quiz owners (issue 16) ----

pub async fn in_process_quiz_owners() -> Arc<dyn questpath::ports::QuizOwners> {
    Arc::new(questpath::adapters::embedded::InProcessQuizOwners::new())
}

pub async fn redis_quiz_owners() -> Arc<dyn questpath::ports::QuizOwners> {
    Arc::new(redis().await.quiz_owners())
}

// ---- the same Redis adapters on the three-master test cluster ----

/// Redis Cluster settings with a prefix of this test's own.
pub fn redis_cluster_settings() -> RedisSettings {
    questpath_test_support::redis_cluster_settings(&format!("{}:", unique_name("test")))
}

/// A connection to the test Redis Cluster under a prefix of this test's own.
pub async fn redis_cluster() -> Redis {
    Redis::connect(&redis_cluster_settings())
        .await
        .expect("connect to the test Redis Cluster")
}

pub async fn redis_cluster_cache() -> Arc<dyn Cache> {
    Arc::new(redis_cluster().await.cache())
}

pub async fn redis_cluster_rate_limiter() -> Arc<dyn RateLimiter> {
    Arc::new(redis_cluster().await.rate_limiter())
}

/// Two instances on the cluster sharing a prefix.
pub async fn redis_cluster_buses() -> BusPair {
    let settings = redis_cluster_settings();
    let first = Redis::connect(&settings)
        .await
        .expect("connect first instance");
    let second = Redis::connect(&settings)
        .await
        .expect("connect second instance");
    BusPair {
        first: Arc::new(first.bus()),
        second: Arc::new(second.bus()),
    }
}

pub async fn redis_cluster_leaderboard() -> Arc<dyn Leaderboard> {
    Arc::new(redis_cluster().await.leaderboard())
}

pub async fn redis_cluster_job_queue() -> Arc<dyn JobQueue> {
    Arc::new(
        redis_cluster()
            .await
            .job_queue()
            .with_visibility_timeout(TEST_VISIBILITY_TIMEOUT)
            .with_max_attempts(TEST_MAX_ATTEMPTS),
    )
}

pub async fn redis_cluster_quiz_owners() -> Arc<dyn questpath::ports::QuizOwners> {
    Arc::new(redis_cluster().await.quiz_owners())
}
