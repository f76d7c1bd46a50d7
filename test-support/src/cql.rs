//! Test keyspaces on the test CQL server: unique names that carry their creation time,
//! dropped when their test ends, and swept when a crashed test left them behind.
//! (Cassandra keeps every table's structures in its heap; keyspaces must not pile up.)

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;

/// Keyspaces older than this are leftovers of crashed tests: no test runs this long.
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// Prefixes of test keyspaces (nothing else is ever swept).
const PREFIXES: &[&str] = &["test_", "cli_"];

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `{prefix}_{created unix seconds}_{random}`: a valid keyspace name (letters, digits,
/// underscores, at most 48 characters) that tells its age.
pub fn keyspace_name(prefix: &str) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}_{}_{}", now_secs(), &random[..16])
}

/// A new keyspace name, after sweeping what crashed tests left on the test server.
pub async fn fresh_keyspace(prefix: &str) -> String {
    sweep_stale(&crate::services::scylla_nodes()).await;
    keyspace_name(prefix)
}

async fn session(nodes: &str) -> Session {
    SessionBuilder::new()
        .known_nodes(nodes.split(','))
        .build()
        .await
        .expect("connect to the test CQL server")
}

/// Drops `keyspace`; failures are reported but do not fail the test.
pub async fn drop_keyspace(nodes: &str, keyspace: &str) {
    let session = session(nodes).await;
    if let Err(e) = session
        .query_unpaged(format!("DROP KEYSPACE IF EXISTS {keyspace}"), ())
        .await
    {
        eprintln!("could not drop test keyspace {keyspace}: {e}");
    }
}

/// Drops test keyspaces older than an hour.
pub async fn sweep_stale(nodes: &str) {
    let session = session(nodes).await;
    let Ok(result) = session
        .query_unpaged("SELECT keyspace_name FROM system_schema.keyspaces", ())
        .await
    else {
        return;
    };
    let Ok(rows) = result.into_rows_result() else {
        return;
    };
    let Ok(names) = rows.rows::<(String,)>() else {
        return;
    };
    let cutoff = now_secs().saturating_sub(STALE_AFTER.as_secs());
    for (name,) in names.flatten() {
        let Some(rest) = PREFIXES.iter().find_map(|p| name.strip_prefix(p)) else {
            continue;
        };
        let created = rest.split('_').next().and_then(|s| s.parse::<u64>().ok());
        // Names without a timestamp predate this scheme: stale too.
        if created.is_none_or(|c| c < cutoff) {
            let _ = session
                .query_unpaged(format!("DROP KEYSPACE IF EXISTS {name}"), ())
                .await;
        }
    }
}
