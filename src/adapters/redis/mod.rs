//! Redis adapters: shared state for many instances.
//!
//! One [`Redis`] connection serves every port: a small pool of multiplexed connections
//! for ordinary commands, a few exclusive connections for blocking stream reads (a
//! blocked connection cannot serve anything else), and one subscriber connection for
//! the bus. Every key and channel starts with the configured prefix, so several
//! deployments can share one Redis.
//!
//! The URL may name one server (`redis://`, `rediss://`) or a Redis Cluster
//! (`redis-cluster://host:port?node=host:port&node=...`, `rediss-cluster://` for TLS).
//! On a cluster every key that one Lua script or one multi-key command touches carries
//! the same hash tag (the part in braces), so they share a slot; the tags are per board
//! and per queue, so the load still spreads over the masters. The prefix may not contain
//! braces, so the adapters' tags are the ones Redis hashes.
//!
//! Key layout (`<p>` is the prefix, `<…>` a placeholder; braces are hash tags):
//! - cache: `<p>cache:<key>`
//! - rate limiter: `<p>rl:<limit>:<window in µs>:<key>`
//! - bus channels: `<p>bus:<topic>` (sharded pub/sub on a cluster, see [`RedisBus`])
//! - leaderboards: `<p>{lb:<board>}` (sorted set), `<p>{lb:<board>}#members`,
//!   `<p>{lb:<board>}#built`, and rebuild leases `<p>lb-lease:<name>`
//! - job queues: `<p>{jobs:<queue>}` (stream) and the same followed by `:delayed`,
//!   `:delayed:data`, `:entries` and `:dead`
//! - quiz owners: `<p>{quiz:<user>}:owner` (lease) and `<p>{quiz:<user>}:state` (saved copy)

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
use fred::types::config::{Options, ServerConfig};
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
    /// A Redis Cluster: the bus uses sharded pub/sub, the heartbeat watches the slots.
    clustered: bool,
    closed: AtomicBool,
}

impl Shared {
    /// `{prefix}{space}:{name}`, for keys that are only ever touched alone.
    pub(crate) fn key(&self, space: &str, name: &str) -> String {
        format!("{}{space}:{name}", self.prefix)
    }

    /// `{prefix}{{space}:{name}}`: a key whose hash tag is `{space}:{name}`. Every key
    /// built by appending to it lands in the same cluster slot, so one script or one
    /// multi-key command may touch them all. The tag is never empty (an empty `{}` would
    /// hash the whole key instead), and since the prefix has no braces, it is the first.
    pub(crate) fn tagged(&self, space: &str, name: &str) -> String {
        format!("{}{{{space}:{name}}}", self.prefix)
    }

    /// The cluster's masters as the client last saw them (empty on a single server).
    fn masters(&self) -> Vec<fred::types::config::Server> {
        if !self.clustered {
            return Vec::new();
        }
        self.pool
            .next()
            .cached_cluster_state()
            .map(|state| state.unique_primary_nodes())
            .unwrap_or_default()
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
        let clustered = config.server.is_clustered();
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
            clustered,
            closed: AtomicBool::new(false),
        });
        bus::spawn_dispatcher(&shared);
        bus::spawn_resubscriber(&shared);
        spawn_heartbeat(&shared);
        Ok(Redis { shared })
    }

    /// Redis's `maxmemory-policy` on every server that holds keys: the one server, or
    /// each master of a cluster, as `(host:port, policy)`. The policy is `None` where the
    /// server does not tell (`CONFIG` is renamed or refused on some managed services, or
    /// the node did not answer); the list is empty if the cluster's masters are unknown.
    pub async fn eviction_policies(&self) -> Vec<(String, Option<String>)> {
        let client = self.shared.pool.next();
        if !self.shared.clustered {
            let server = match &client.client_config().server {
                ServerConfig::Centralized { server } => server.to_string(),
                other => format!("{:?}", other.hosts()),
            };
            return vec![(server, eviction_policy(client, None).await)];
        }
        let mut policies = Vec::new();
        for master in self.shared.masters() {
            let policy = eviction_policy(client, Some(master.clone())).await;
            policies.push((master.to_string(), policy));
        }
        policies
    }

    /// Renames the boards and job queues a version without hash tags wrote
    /// (`<p>lb:<board>…`, `<p>jobs:<queue>…`) to the tagged names, on a single server
    /// (those versions could not run on a cluster). Without it, an upgrade would strand
    /// queued jobs, such as a finished room's XP grants, under names nobody reads. A
    /// rename keeps a stream's consumer group and pending entries and a key's expiry.
    /// A name already taken keeps the newer key (the old one is left and logged). Safe
    /// to run from every instance at once; returns how many keys moved.
    pub async fn upgrade_key_names(&self) -> PortResult<usize> {
        if self.shared.clustered {
            return Ok(0);
        }
        let client = self.shared.pool.next();
        let prefix = glob_escape(&self.shared.prefix);
        let mut moved = 0;
        for space in ["jobs", "lb"] {
            let pattern = format!("{prefix}{space}:*");
            let mut cursor = "0".to_string();
            loop {
                let reply: Value = client
                    .custom(
                        fred::cmd!("SCAN"),
                        vec![cursor.as_str(), "MATCH", &pattern, "COUNT", "1000"],
                    )
                    .await
                    .map_err(port_err("upgrade_key_names"))?;
                let mut parts = reply.into_array().into_iter();
                cursor = parts
                    .next()
                    .and_then(|c| c.into_string())
                    .ok_or_else(|| bad_reply("upgrade_key_names", "SCAN cursor"))?;
                for key in parts.next().map(Value::into_array).unwrap_or_default() {
                    let Some(old) = key.into_string() else {
                        continue;
                    };
                    let Some(new) = self.tagged_name(space, &old) else {
                        continue;
                    };
                    let renamed: Result<i64, _> = client.renamenx(old.as_str(), new.as_str()).await;
                    match renamed {
                        Ok(1) => moved += 1,
                        Ok(_) => tracing::warn!(
                            old,
                            new,
                            "an old Redis key was not renamed: the new name exists already"
                        ),
                        // Renamed by another instance meanwhile.
                        Err(_) => {}
                    }
                }
                if cursor == "0" {
                    break;
                }
            }
        }
        if moved > 0 {
            tracing::info!(moved, "renamed Redis keys to the hash-tagged names");
        }
        Ok(moved)
    }

    /// The tagged name of an untagged board or job-queue key, `None` for anything else.
    fn tagged_name(&self, space: &str, key: &str) -> Option<String> {
        let rest = key.strip_prefix(&self.shared.prefix)?.strip_prefix(space)?;
        let rest = rest.strip_prefix(':')?;
        if rest.starts_with('{') || rest.is_empty() {
            return None;
        }
        // Old queue names could not end in these suffixes, nor board names in `#…`.
        let suffixes: &[&str] = match space {
            "jobs" => &[":delayed:data", ":delayed", ":entries", ":dead"],
            _ => &["#members", "#built"],
        };
        let (name, suffix) = suffixes
            .iter()
            .find_map(|s| rest.strip_suffix(s).map(|name| (name, *s)))
            .unwrap_or((rest, ""));
        Some(format!("{}{suffix}", self.shared.tagged(space, name)))
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

/// `text` with the glob characters of `SCAN MATCH` escaped.
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// `CONFIG GET maxmemory-policy` on `node` (the client's own server when `None`).
async fn eviction_policy(
    client: &Client,
    node: Option<fred::types::config::Server>,
) -> Option<String> {
    let options = Options {
        cluster_node: node,
        ..Options::default()
    };
    let reply: Value = client
        .with_options(&options)
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

/// Pings the subscriber connection periodically; the unresponsive-connection check
/// then replaces it if the ping goes unanswered. On a cluster it pings every master
/// (the subscriber holds a connection to each) and refreshes the slot map: when slots
/// moved, Redis dropped the sharded subscriptions of the moved slots without telling
/// the client, so they are all renewed.
fn spawn_heartbeat(shared: &Arc<Shared>) {
    let weak = Arc::downgrade(shared);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(SUBSCRIBER_HEARTBEAT).await;
            let Some(shared) = weak.upgrade() else { break };
            if shared.closed.load(Ordering::SeqCst) {
                break;
            }
            if !shared.clustered {
                if let Err(e) = shared.subscriber.ping::<Value>(None).await {
                    tracing::warn!(error = %e, "Redis subscriber connection did not answer a ping");
                }
                continue;
            }
            let slots = |s: &Shared| s.subscriber.cached_cluster_state().map(|c| c.pretty());
            let before = slots(&shared);
            if let Err(e) = shared.subscriber.sync_cluster().await {
                tracing::warn!(error = %e, "cannot refresh the Redis Cluster's slot map");
                continue;
            }
            if slots(&shared) != before {
                tracing::info!("Redis Cluster slots moved: renewing the bus subscriptions");
                bus::resubscribe(&shared).await;
            }
            for master in shared.masters() {
                let options = Options {
                    cluster_node: Some(master.clone()),
                    ..Options::default()
                };
                if let Err(e) = shared
                    .subscriber
                    .with_options(&options)
                    .ping::<Value>(None)
                    .await
                {
                    tracing::warn!(error = %e, %master, "Redis subscriber connection did not answer a ping");
                }
            }
        }
    });
}
