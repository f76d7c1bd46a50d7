//! The Redis and CQL servers of the suite. `scripts/test` starts them and exports
//! `QUESTPATH_TEST_REDIS_URL`, `QUESTPATH_TEST_REDIS_CLUSTER_URL` and
//! `QUESTPATH_TEST_SCYLLA_NODES`; a test that needs one
//! fails (never skips) when its variable is missing, so CI cannot pass without them.

use questpath::config::{RedisSettings, Replication, ScyllaSettings, Secret};

/// The value of a variable `scripts/test` sets; a clear failure when it is missing.
pub fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the suite with scripts/test, which starts Redis, Cassandra and an SMTP server"
        )
    })
}

/// The test Redis (`QUESTPATH_TEST_REDIS_URL`).
pub fn redis_url() -> String {
    required_env("QUESTPATH_TEST_REDIS_URL")
}

/// The test Redis Cluster, three masters (`QUESTPATH_TEST_REDIS_CLUSTER_URL`, a
/// `redis-cluster://` URL; scripts/services/redis-cluster.sh starts it).
pub fn redis_cluster_url() -> String {
    required_env("QUESTPATH_TEST_REDIS_CLUSTER_URL")
}

/// The test Redis Cluster under `prefix`.
pub fn redis_cluster_settings(prefix: &str) -> RedisSettings {
    RedisSettings {
        url: Secret::new(redis_cluster_url()),
        prefix: prefix.to_string(),
    }
}

/// The test CQL server's nodes, comma-separated (`QUESTPATH_TEST_SCYLLA_NODES`).
pub fn scylla_nodes() -> String {
    required_env("QUESTPATH_TEST_SCYLLA_NODES")
}

/// The test Redis under `prefix` (one per test, or one per simulated deployment).
pub fn redis_settings(prefix: &str) -> RedisSettings {
    RedisSettings {
        url: Secret::new(redis_url()),
        prefix: prefix.to_string(),
    }
}

/// `keyspace` on the test CQL server, replicated once.
pub fn scylla_settings(keyspace: &str) -> ScyllaSettings {
    ScyllaSettings {
        nodes: scylla_nodes().split(',').map(str::to_string).collect(),
        keyspace: keyspace.to_string(),
        replication: Replication::Simple(1),
        username: None,
        password: None,
    }
}
