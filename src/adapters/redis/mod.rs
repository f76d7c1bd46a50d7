//! Redis adapters: shared state for many instances.
//!
//! One [`Redis`] connection serves every port: a small pool of multiplexed connections
//! for ordinary commands, a few exclusive connections for blocking stream reads (a
//! blocked connection cannot serve anything else), and one subscriber connection for
//! the bus. Every key and channel starts with the configured prefix, so several
//! deployments can share one Redis.
//!
//! Key layout (`{p}` is the prefix):
//! - cache: `{p}cache:{key}`
//! - rate limiter: `{p}rl:{limit}:{window in µs}:{key}`
//! - bus channels: `{p}bus:{topic}`
//! - leaderboards: `{p}lb:{board}` (sorted set), `{p}lb:{board}#members`, `{p}lb:{board}#built`,
//!   and rebuild leases `{p}lb-lease:{name}`
//! - quiz owners: `{p}{quiz:<user>}:owner` (lease) and `{p}{quiz:<user>}:state` (saved copy)
//! - job queues: `{p}jobs:{queue}` (stream) and `{p}jobs:{queue}:{delayed,delayed:data,entries,dead}`

mod bus;
mod cache;
mod job_queue;
mod leaderboard;
mod rate_limiter;
// ---- quiz owners (issue 16, one owner per solo quiz) ----
mod quiz_owners;
pub use quiz_owners::RedisQuizOwners;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fred::clients::{ExclusivePool, SubscriberClient};
use fred::prelude::*;
use fred::types::scripts::Script;

use crate::config::RedisSettings;
use questpath_actors::ports::{PortError, PortResult};

pub use bus::RedisBus;
pub use cache::RedisCache;
pub use job_queue::RedisJobQueue;
pub use leaderboard::RedisLeaderboard;
pub use rate_limiter::RedisRateLimiter;

pub(crate) const BACKEND: &str = "redis";

/// TCP connect (and TLS handshake) limit, so a dead address fails start-up quickly.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Whole start-up limit, in case a step after the TCP connect stalls.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Limit of any one command, so callers see an error instead of hanging while Redis
/// is unreachable (commands wait for the reconnection up to this long).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections for ordinary commands. They are multiplexed (pipelined), so a few
/// suffice for many concurrent callers.
const POOL_SIZE: usize = 3;
/// Connections reserved for blocking stream reads (`XREADGROUP BLOCK`). Claimers that
/// find them all busy poll without blocking instead.
const BLOCKING_POOL_SIZE: usize = 4;
/// Pub/sub messages buffered between the subscriber connection and the dispatcher.
const SUBSCRIBER_BUFFER: usize = 4096;
/// Ping period of the subscriber connection: it otherwise only receives, so a silently
/// dead connection would never be noticed and bus messages would stop.
const SUBSCRIBER_HEARTBEAT: Duration = Duration::from_secs(10);

/// Maps a fred error to a port error naming the operation.
pub(crate) fn port_err(operation: &'static str) -> impl FnOnce(fred::error::Error) -> PortError {
    move |e| PortError::new(BACKEND, operation, e)
}

/// A reply that does not have the shape the adapter expects (a bug or a foreign key).
pub(crate) fn bad_reply(operation: &'static str, what: impl std::fmt::Display) -> PortError {
    PortError::new(BACKEND, operation, format!("unexpected reply: {what}"))
}

/// What every adapter handle shares: the connections and the key prefix.
pub(crate) struct Shared {
    prefix: String,
    pool: Pool,
    blocking: ExclusivePool,
    subscriber: SubscriberClient,
    bus: bus::BusState,
    closed: AtomicBool,
}

impl Shared {
    /// `{prefix}{space}:{name}`.
    pub(crate) fn key(&self, space: &str, name: &str) -> String {
        format!("{}{space}:{name}", self.prefix)
    }

    /// Runs a Lua script by hash, loading it first if this Redis has not seen it (after
    /// a restart or `SCRIPT FLUSH`).
    pub(crate) async fn eval(
        &self,
        operation: &'static str,
        script: &Script,
        keys: Vec<String>,
        args: Vec<Value>,
    ) -> PortResult<Value> {
        script
            .evalsha_with_reload::<Value, _, _>(self.pool.next(), keys, args)
            .await
            .map_err(port_err(operation))
    }

    pub(crate) async fn ping(&self) -> PortResult<()> {
        self.pool
            .ping::<Value>(None)
            .await
            .map_err(port_err("ping"))?;
        Ok(())
    }
}

/// A connection to Redis shared by all Redis adapters of this process. Cloning is
/// cheap; [`Redis::shutdown`] closes it for every clone.
#[derive(Clone)]
pub struct Redis {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL: it may hold a password.
        f.debug_struct("Redis")
            .field("prefix", &self.shared.prefix)
            .finish()
    }
}

impl Redis {
    /// Connects every connection up front, so a wrong URL or a dead server is reported
    /// at start-up (within about five seconds) rather than at the first request. Once
    /// connected, lost connections are re-established with exponential backoff (0.1 s
    /// to 5 s, forever) and bus subscriptions are renewed, so a Redis restart is
    /// survived; commands issued meanwhile fail after five seconds.
    pub async fn connect(settings: &RedisSettings) -> PortResult<Redis> {
        let config = Config::from_url(settings.url.expose())
            .map_err(|e| PortError::new(BACKEND, "connect", format!("invalid Redis URL: {e}")))?;
        let mut builder = Builder::from_config(config);
        builder
            .with_config(|config| config.fail_fast = true)
            .with_connection_config(|connection| {
                connection.connection_timeout = CONNECT_TIMEOUT;
                connection.internal_command_timeout = CONNECT_TIMEOUT;
                connection.tcp.nodelay = Some(true);
                connection.unresponsive.max_timeout = Some(COMMAND_TIMEOUT * 2);
            })
            .set_performance_config(PerformanceConfig {
                default_command_timeout: COMMAND_TIMEOUT,
                ..PerformanceConfig::default()
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2));
        let pool = builder.build_pool(POOL_SIZE).map_err(port_err("connect"))?;
        let blocking = builder
            .build_exclusive_pool(BLOCKING_POOL_SIZE)
            .map_err(port_err("connect"))?;
        let subscriber = builder
            .set_performance_config(PerformanceConfig {
                default_command_timeout: COMMAND_TIMEOUT,
                broadcast_channel_capacity: SUBSCRIBER_BUFFER,
                ..PerformanceConfig::default()
            })
            .build_subscriber_client()
            .map_err(port_err("connect"))?;

        let started = tokio::time::timeout(STARTUP_TIMEOUT, async {
            pool.init().await?;
            blocking.init().await?;
            subscriber.init().await?;
            Ok::<_, fred::error::Error>(())
        })
        .await;
        let failure = match started {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("no answer within {STARTUP_TIMEOUT:?}")),
        };
        if let Some(problem) = failure {
            let _ = pool.quit().await;
            let _ = blocking.quit().await;
            let _ = subscriber.quit().await;
            return Err(PortError::new(
                BACKEND,
                "connect",
                format!("cannot connect to Redis: {problem}"),
            ));
        }

        let shared = Arc::new(Shared {
            prefix: settings.prefix.clone(),
            pool,
            blocking,
            subscriber,
            bus: bus::BusState::default(),
            closed: AtomicBool::new(false),
        });
        bus::spawn_dispatcher(&shared);
        bus::spawn_resubscriber(&shared);
        spawn_heartbeat(&shared);
        Ok(Redis { shared })
    }

    /// Redis's `maxmemory-policy`, or `None` when the server does not tell (`CONFIG` is
    /// renamed or refused on some managed services).
    pub async fn eviction_policy(&self) -> Option<String> {
        let reply: Value = self
            .shared
            .pool
            .custom(fred::cmd!("CONFIG"), vec!["GET", "maxmemory-policy"])
            .await
            .ok()?;
        // `[name, value]` over RESP2, `{name: value}` over RESP3.
        match reply {
            Value::Array(items) => items.get(1).and_then(|v| v.as_string()),
            Value::Map(map) => map.inner().values().next().and_then(|v| v.as_string()),
            _ => None,
        }
    }

    /// The cache on this connection (every handle shares it).
    pub fn cache(&self) -> RedisCache {
        RedisCache::new(Arc::clone(&self.shared))
    }

    /// The rate limiter on this connection, timed by the Redis clock.
    pub fn rate_limiter(&self) -> RedisRateLimiter {
        RedisRateLimiter::new(Arc::clone(&self.shared))
    }

    /// The bus on this connection; every handle feeds its subscribers from the one
    /// subscriber connection.
    pub fn bus(&self) -> RedisBus {
        RedisBus::new(Arc::clone(&self.shared))
    }

    /// The leaderboards on this connection.
    pub fn leaderboard(&self) -> RedisLeaderboard {
        RedisLeaderboard::new(Arc::clone(&self.shared))
    }

    /// A job queue with the default visibility timeout (5 min) and attempts (5); see
    /// [`RedisJobQueue::with_visibility_timeout`] and [`RedisJobQueue::with_max_attempts`].
    pub fn job_queue(&self) -> RedisJobQueue {
        RedisJobQueue::new(Arc::clone(&self.shared))
    }

    /// The quiz leases and saved quizzes on this connection (issue 16).
    pub fn quiz_owners(&self) -> RedisQuizOwners {
        RedisQuizOwners::new(Arc::clone(&self.shared))
    }

    /// Ends every bus subscription (receivers see `None`) and closes the connections.
    /// Calls made afterwards fail.
    pub async fn shutdown(&self) {
        if self.shared.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        self.shared.bus.close();
        if let Err(e) = self.shared.subscriber.quit().await {
            tracing::debug!(error = %e, "closing the Redis subscriber connection");
        }
        if let Err(e) = self.shared.pool.quit().await {
            tracing::debug!(error = %e, "closing the Redis connection pool");
        }
        if let Err(e) = self.shared.blocking.quit().await {
            tracing::debug!(error = %e, "closing the Redis blocking connections");
        }
    }
}

/// Pings the subscriber connection periodically; the unresponsive-connection check
/// then replaces it if the ping goes unanswered.
fn spawn_heartbeat(shared: &Arc<Shared>) {
    let weak = Arc::downgrade(shared);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(SUBSCRIBER_HEARTBEAT).await;
            let Some(shared) = weak.upgrade() else { break };
            if shared.closed.load(Ordering::SeqCst) {
                break;
            }
            if let Err(e) = shared.subscriber.ping::<Value>(None).await {
                tracing::warn!(error = %e, "Redis subscriber connection did not answer a ping");
            }
        }
    });
}
