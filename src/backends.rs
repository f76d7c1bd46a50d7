//! The set of port implementations one server runs with, chosen from the settings:
//! ScyllaDB when `QUESTPATH_SCYLLA_NODES` is set, else the embedded store; Redis for
//! the shared-state ports when `QUESTPATH_REDIS_URL` is set, else in-process ones.

use std::sync::Arc;
use std::time::Duration;

use crate::adapters::embedded::{
    EmbeddedStore, InProcessBus, InProcessCache, InProcessJobQueue, InProcessLeaderboard,
    InProcessQuizOwners, InProcessRateLimiter,
};
use crate::adapters::redis::{self, Redis};
use crate::adapters::scylla::{ConnectError, ScyllaStore};
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::metrics::instrumented::{
    InstrumentedBus, InstrumentedCache, InstrumentedJobQueue, InstrumentedLeaderboard,
    InstrumentedRateLimiter, InstrumentedStore,
};
use crate::ports::{Bus, Cache, JobQueue, Leaderboard, PortError, RateLimiter, Store, StoreError};

/// Every port, as trait objects shared by handlers and actors.
#[derive(Clone)]
pub struct Backends {
    pub store: Arc<dyn Store>,
    pub cache: Arc<dyn Cache>,
    pub rate_limiter: Arc<dyn RateLimiter>,
    pub bus: Arc<dyn Bus>,
    pub leaderboard: Arc<dyn Leaderboard>,
    pub job_queue: Arc<dyn JobQueue>,
    /// Which session runs each learner's solo quiz, and its saved copy (issue 16).
    pub quiz_owners: Arc<dyn questpath_actors::ports::QuizOwners>,
    /// Where "now" comes from for the engagement rules (a learner's day): the system's
    /// clock, or a test's manual one ([`Backends::with_clock`]).
    pub clock: Arc<dyn questpath_actors::clock::Clock>,
    /// Kept to close the connections on shutdown.
    redis: Option<Redis>,
    /// Kept to close the file on shutdown, so the next start needs no repair.
    embedded: Option<EmbeddedStore>,
}

/// A backend that could not be opened at start-up.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("embedded store: {0}")]
    Embedded(StoreError),
    #[error("scylla: {0}")]
    Scylla(ConnectError),
    #[error("redis: {0}")]
    Redis(PortError),
    /// Redis may evict keys: a board or an XP mark could vanish alone, which the rank
    /// rebuild (it assumes all-or-nothing loss) and the ledger recovery cannot notice.
    /// On a cluster every master is checked; the first offender is named.
    #[error(
        "redis: maxmemory-policy is {policy} on {node}; set it to noeviction (CONFIG SET maxmemory-policy noeviction, and in redis.conf of every master)"
    )]
    RedisEviction { policy: String, node: String },
}

impl BackendError {
    /// True when an operator must act on the configuration or schema (exit status 2),
    /// rather than wait for a service to come back.
    pub fn is_operator_error(&self) -> bool {
        matches!(
            self,
            BackendError::Scylla(ConnectError::Schema(_)) | BackendError::RedisEviction { .. }
        )
    }
}

/// Result of one readiness probe.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    pub name: &'static str,
    pub backend: &'static str,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How long one readiness probe may take before it counts as failed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

impl Backends {
    /// The embedded store, when it is the store (for its control socket).
    pub fn embedded(&self) -> Option<&EmbeddedStore> {
        self.embedded.as_ref()
    }

    /// Opens every backend the settings name.
    pub async fn connect(settings: &Settings) -> Result<Self, BackendError> {
        let mut embedded = None;
        let store: Arc<dyn Store> = match &settings.scylla {
            Some(scylla) => Arc::new(
                ScyllaStore::connect(scylla)
                    .await
                    .map_err(BackendError::Scylla)?,
            ),
            None => {
                let store = EmbeddedStore::open(&settings.data_dir)
                    .await
                    .map_err(BackendError::Embedded)?;
                embedded = Some(store.clone());
                Arc::new(store)
            }
        };
        match &settings.redis {
            Some(redis_settings) => {
                let redis = Redis::connect(redis_settings)
                    .await
                    .map_err(BackendError::Redis)?;
                let policies = redis.eviction_policies().await;
                if policies.is_empty() {
                    tracing::warn!(
                        "could not list the Redis Cluster's masters to read their maxmemory-policy; it must be noeviction (the rank rebuild assumes all-or-nothing loss)"
                    );
                }
                for (node, policy) in policies {
                    match policy {
                        Some(policy) if policy != "noeviction" => {
                            redis.shutdown().await;
                            return Err(BackendError::RedisEviction { policy, node });
                        }
                        Some(_) => {}
                        None => tracing::warn!(
                            %node,
                            "could not read Redis's maxmemory-policy; it must be noeviction (the rank rebuild assumes all-or-nothing loss)"
                        ),
                    }
                }
                if let Err(e) = redis.upgrade_key_names().await {
                    tracing::warn!(error = %e, "could not rename Redis keys of an older version");
                }
                Ok(Backends {
                    store,
                    cache: Arc::new(redis.cache()),
                    rate_limiter: Arc::new(redis.rate_limiter()),
                    bus: Arc::new(redis.bus()),
                    leaderboard: Arc::new(redis.leaderboard()),
                    job_queue: Arc::new(redis.job_queue()),
                    quiz_owners: Arc::new(redis.quiz_owners()),
                    clock: Arc::new(questpath_actors::clock::SystemClock),
                    redis: Some(redis),
                    embedded,
                })
            }
            None => Ok(Backends {
                embedded,
                ..Backends::in_process(store)
            }),
        }
    }

    /// The given store with in-process shared-state ports.
    pub fn in_process(store: Arc<dyn Store>) -> Self {
        Backends {
            store,
            cache: Arc::new(InProcessCache::new()),
            rate_limiter: Arc::new(InProcessRateLimiter::new()),
            bus: Arc::new(InProcessBus::new()),
            leaderboard: Arc::new(InProcessLeaderboard::new()),
            job_queue: Arc::new(InProcessJobQueue::new()),
            quiz_owners: Arc::new(InProcessQuizOwners::new()),
            clock: Arc::new(questpath_actors::clock::SystemClock),
            redis: None,
            embedded: None,
        }
    }

    /// The same ports with `clock` as "now" (tests drive the days of streaks).
    pub fn with_clock(mut self, clock: Arc<dyn questpath_actors::clock::Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Wraps every port in its metrics decorator (`metrics::instrumented`): store calls
    /// are timed and counted, and so are the shared-state ports' calls when they go to
    /// Redis (in-process ones are memory operations that would drown the Redis signal).
    pub fn instrument(mut self, metrics: &Arc<Metrics>) -> Self {
        let m = metrics;
        let is_redis = |backend: &str| backend == redis::BACKEND;
        self.store = Arc::new(InstrumentedStore::new(self.store, m.clone()));
        let on_redis = is_redis(self.cache.backend());
        self.cache = Arc::new(InstrumentedCache::new(self.cache, m.clone(), on_redis));
        let on_redis = is_redis(self.rate_limiter.backend());
        self.rate_limiter = Arc::new(InstrumentedRateLimiter::new(
            self.rate_limiter,
            m.clone(),
            on_redis,
        ));
        let on_redis = is_redis(self.bus.backend());
        self.bus = Arc::new(InstrumentedBus::new(self.bus, m.clone(), on_redis));
        let on_redis = is_redis(self.leaderboard.backend());
        self.leaderboard = Arc::new(InstrumentedLeaderboard::new(
            self.leaderboard,
            m.clone(),
            on_redis,
        ));
        let on_redis = is_redis(self.job_queue.backend());
        self.job_queue = Arc::new(InstrumentedJobQueue::new(
            self.job_queue,
            m.clone(),
            on_redis,
        ));
        let on_redis = is_redis(self.quiz_owners.backend());
        self.quiz_owners = Arc::new(crate::metrics::instrumented::InstrumentedQuizOwners::new(
            self.quiz_owners,
            m.clone(),
            on_redis,
        ));
        self
    }

    /// Probes every backend concurrently, each bounded by a timeout.
    pub async fn check(&self) -> Vec<Check> {
        async fn probe<F>(name: &'static str, backend: &'static str, f: F) -> Check
        where
            F: std::future::Future<Output = Result<(), String>>,
        {
            let error = match tokio::time::timeout(PROBE_TIMEOUT, f).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e),
                Err(_) => Some(format!("no answer within {} ms", PROBE_TIMEOUT.as_millis())),
            };
            Check {
                name,
                backend,
                ok: error.is_none(),
                error,
            }
        }
        let text = |e: &dyn std::fmt::Display| e.to_string();
        let (store, cache, rate_limiter, bus, leaderboard, job_queue) = tokio::join!(
            probe("store", self.store.backend(), async {
                self.store.ping().await.map_err(|e| text(&e))
            }),
            probe("cache", self.cache.backend(), async {
                self.cache.ping().await.map_err(|e| text(&e))
            }),
            probe("rate_limiter", self.rate_limiter.backend(), async {
                self.rate_limiter.ping().await.map_err(|e| text(&e))
            }),
            probe("bus", self.bus.backend(), async {
                self.bus.ping().await.map_err(|e| text(&e))
            }),
            probe("leaderboard", self.leaderboard.backend(), async {
                self.leaderboard.ping().await.map_err(|e| text(&e))
            }),
            probe("job_queue", self.job_queue.backend(), async {
                self.job_queue.ping().await.map_err(|e| text(&e))
            }),
        );
        vec![store, cache, rate_limiter, bus, leaderboard, job_queue]
    }

    /// Closes connections that need a clean goodbye, and the embedded store's file.
    pub async fn shutdown(&self) {
        if let Some(redis) = &self.redis {
            redis.shutdown().await;
        }
        if let Some(store) = &self.embedded {
            store.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn instrument_wraps_every_port_and_keeps_backend_names() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(EmbeddedStore::open(dir.path()).await.unwrap());
        let m = Arc::new(Metrics::new(&["roadmaps"]).unwrap());
        let backends = Backends::in_process(store).instrument(&m);
        let checks = backends.check().await;
        assert!(checks.iter().all(|c| c.ok), "{checks:?}");
        assert_eq!(checks[0].backend, "embedded");
        assert!(
            m.render()
                .contains(r#"questpath_store_operations_total{operation="ping",outcome="ok"} 1"#)
        );
    }
}
