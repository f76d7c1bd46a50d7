//! Building a driver session from the settings.

use std::time::Duration;

use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;

use crate::config::ScyllaSettings;

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No node could be reached, or a query failed.
    #[error("cannot reach the CQL cluster at {nodes}: {message}")]
    Unreachable { nodes: String, message: String },
    /// The keyspace is missing or older than this binary.
    #[error("{0}")]
    Schema(String),
}

/// How long one connection attempt may take; a dead node must not hang start-up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a session to the cluster, without selecting a keyspace.
pub async fn open(settings: &ScyllaSettings) -> Result<Session, ConnectError> {
    let mut builder = SessionBuilder::new()
        .known_nodes(&settings.nodes)
        .connection_timeout(CONNECT_TIMEOUT);
    if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
        builder = builder.user(user, password.expose());
    }
    builder.build().await.map_err(|e| unreachable(settings, e))
}

pub(crate) fn unreachable(settings: &ScyllaSettings, e: impl std::fmt::Display) -> ConnectError {
    ConnectError::Unreachable {
        nodes: settings.nodes.join(","),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Replication, Secret};

    fn settings(nodes: &[&str]) -> ScyllaSettings {
        ScyllaSettings {
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
            keyspace: "questpath".into(),
            replication: Replication::Simple(1),
            username: Some("learner".into()),
            password: Some(Secret::new("not used: nothing answers")),
        }
    }

    #[tokio::test]
    async fn a_cluster_nobody_answers_for_is_unreachable_naming_its_nodes() {
        // Port 1 on loopback: refused at once, with or without credentials to offer.
        let Err(refused) = open(&settings(&["127.0.0.1:1", "127.0.0.2:1"])).await else {
            panic!("a session without a node");
        };
        let text = refused.to_string();
        assert!(
            matches!(refused, ConnectError::Unreachable { .. }),
            "{text}"
        );
        assert!(text.contains("127.0.0.1:1,127.0.0.2:1"), "{text}");
    }
}
