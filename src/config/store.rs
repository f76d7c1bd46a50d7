//! The backends: the distributed store (ScyllaDB or Cassandra; none means the embedded
//! one) and the shared Redis (none means in-process state).

use super::ConfigError;
use super::Secret;
use super::lookup::{Vars, bad};

/// How `migrate` creates the keyspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replication {
    /// `SimpleStrategy` with one replication factor (single data centre, tests).
    Simple(u32),
    /// `NetworkTopologyStrategy` with the same factor in every data centre.
    NetworkTopology(u32),
    /// `NetworkTopologyStrategy` with a factor per named data centre.
    PerDataCenter(Vec<(String, u32)>),
}

impl Replication {
    /// The CQL map literal of a `CREATE KEYSPACE ... WITH replication = ...`.
    pub fn to_cql(&self) -> String {
        match self {
            Replication::Simple(n) => {
                format!("{{'class': 'SimpleStrategy', 'replication_factor': {n}}}")
            }
            Replication::NetworkTopology(n) => {
                format!("{{'class': 'NetworkTopologyStrategy', 'replication_factor': {n}}}")
            }
            Replication::PerDataCenter(dcs) => {
                let parts: Vec<String> = dcs.iter().map(|(dc, n)| format!("'{dc}': {n}")).collect();
                format!(
                    "{{'class': 'NetworkTopologyStrategy', {}}}",
                    parts.join(", ")
                )
            }
        }
    }

    fn parse(value: &str) -> Result<Self, String> {
        let factor = |s: &str| -> Result<u32, String> {
            match s.trim().parse::<u32>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(format!(
                    "{s:?} is not a replication factor (a whole number from 1)"
                )),
            }
        };
        let value = value.trim();
        if let Some(n) = value.strip_prefix("simple:") {
            return Ok(Replication::Simple(factor(n)?));
        }
        if !value.contains(':') {
            return Ok(Replication::NetworkTopology(factor(value)?));
        }
        let mut dcs = Vec::new();
        for part in value.split(',') {
            let (dc, n) = part
                .split_once(':')
                .ok_or_else(|| format!("{part:?} is not dc:factor"))?;
            let dc = dc.trim();
            if dc.is_empty()
                || !dc
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(format!("{dc:?} is not a data centre name"));
            }
            dcs.push((dc.to_string(), factor(n)?));
        }
        Ok(Replication::PerDataCenter(dcs))
    }
}

/// Settings of the distributed store.
#[derive(Debug, Clone)]
pub struct ScyllaSettings {
    pub nodes: Vec<String>,
    pub keyspace: String,
    pub replication: Replication,
    pub username: Option<String>,
    pub password: Option<Secret>,
}

/// Settings of the shared Redis.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub url: Secret,
    pub prefix: String,
}

/// The cluster, when `QUESTPATH_SCYLLA_NODES` names one.
pub(super) fn scylla(vars: &Vars) -> Result<Option<ScyllaSettings>, ConfigError> {
    let Some(nodes_text) = vars.get("QUESTPATH_SCYLLA_NODES") else {
        return Ok(None);
    };
    let nodes = parse_nodes(&nodes_text).map_err(|p| bad("QUESTPATH_SCYLLA_NODES", p))?;
    let keyspace = vars.or_default("QUESTPATH_SCYLLA_KEYSPACE");
    if !is_cql_identifier(&keyspace) {
        return Err(bad(
            "QUESTPATH_SCYLLA_KEYSPACE",
            format!(
                "{keyspace:?} is not a keyspace name (a letter, then letters, digits or underscores, at most 48)"
            ),
        ));
    }
    let replication = Replication::parse(&vars.or_default("QUESTPATH_SCYLLA_REPLICATION"))
        .map_err(|p| bad("QUESTPATH_SCYLLA_REPLICATION", p))?;
    let username = vars.get("QUESTPATH_SCYLLA_USERNAME");
    let password = vars.get("QUESTPATH_SCYLLA_PASSWORD").map(Secret::new);
    if username.is_some() != password.is_some() {
        return Err(bad(
            "QUESTPATH_SCYLLA_PASSWORD",
            "QUESTPATH_SCYLLA_USERNAME and QUESTPATH_SCYLLA_PASSWORD must be set together",
        ));
    }
    Ok(Some(ScyllaSettings {
        nodes,
        keyspace,
        replication,
        username,
        password,
    }))
}

/// Comma-separated `host:port`s, at least one.
fn parse_nodes(text: &str) -> Result<Vec<String>, String> {
    let mut nodes = Vec::new();
    for node in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !is_host_port(node) {
            return Err(format!("{node:?} is not host:port"));
        }
        nodes.push(node.to_string());
    }
    // Only commas: the cluster would have no node to connect to.
    if nodes.is_empty() {
        return Err(format!("{text:?} names no host:port"));
    }
    Ok(nodes)
}

/// The shared Redis, when `QUESTPATH_REDIS_URL` names one.
pub(super) fn redis(vars: &Vars) -> Result<Option<RedisSettings>, ConfigError> {
    let Some(url) = vars.get("QUESTPATH_REDIS_URL") else {
        return Ok(None);
    };
    let schemes = [
        "redis://",
        "rediss://",
        "redis-cluster://",
        "rediss-cluster://",
    ];
    if !schemes.iter().any(|scheme| url.starts_with(scheme)) {
        return Err(bad(
            "QUESTPATH_REDIS_URL",
            "is not a Redis URL (expected redis://host:port/db, rediss:// for TLS, or redis-cluster://host:port?node=host:port&node=... for a cluster)",
        ));
    }
    // The driver's own parser, so a URL accepted here is one it can connect with.
    if let Err(e) = fred::types::config::Config::from_url(&url) {
        return Err(bad(
            "QUESTPATH_REDIS_URL",
            format!("is not a usable Redis URL: {}", e.details()),
        ));
    }
    let prefix = vars.or_default("QUESTPATH_REDIS_PREFIX");
    // Braces would make a hash tag of the prefix: on a cluster every key would share
    // one slot, or (`{}`) keys of one script would scatter.
    if prefix.len() > 64
        || prefix
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '{' || c == '}')
    {
        return Err(bad(
            "QUESTPATH_REDIS_PREFIX",
            format!("{prefix:?} must be at most 64 characters without spaces or braces"),
        ));
    }
    Ok(Some(RedisSettings {
        url: Secret::new(url),
        prefix,
    }))
}

/// CQL unquoted identifier rules (keyspace and table names).
pub fn is_cql_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && s.len() <= 48
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_host_port(s: &str) -> bool {
    match s.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::settings;

    #[test]
    fn bad_keyspace_and_replication_are_refused() {
        let nodes = ("QUESTPATH_SCYLLA_NODES", "127.0.0.1:9042");
        let err = settings(&[nodes, ("QUESTPATH_SCYLLA_KEYSPACE", "1bad-name")]).unwrap_err();
        assert_eq!(err.variable, "QUESTPATH_SCYLLA_KEYSPACE");
        let err = settings(&[nodes, ("QUESTPATH_SCYLLA_REPLICATION", "0")]).unwrap_err();
        assert_eq!(err.variable, "QUESTPATH_SCYLLA_REPLICATION");
        let err = settings(&[nodes, ("QUESTPATH_SCYLLA_REPLICATION", "dc1:x")]).unwrap_err();
        assert_eq!(err.variable, "QUESTPATH_SCYLLA_REPLICATION");
    }

    #[test]
    fn cluster_urls_are_accepted_and_braced_prefixes_refused() {
        let cluster = "redis-cluster://127.0.0.1:7000?node=127.0.0.1:7001&node=127.0.0.1:7002";
        let parsed = settings(&[("QUESTPATH_REDIS_URL", cluster)]).unwrap();
        assert!(parsed.redis.is_some());
        let tls = "rediss-cluster://u:p@cache.example:7000?node=cache.example:7001";
        assert!(settings(&[("QUESTPATH_REDIS_URL", tls)]).is_ok());
        let err = settings(&[("QUESTPATH_REDIS_URL", "http://127.0.0.1:7000")]).unwrap_err();
        assert_eq!(err.variable, "QUESTPATH_REDIS_URL");
        for prefix in ["qp{", "qp}", "{x}:"] {
            let err = settings(&[
                ("QUESTPATH_REDIS_URL", cluster),
                ("QUESTPATH_REDIS_PREFIX", prefix),
            ])
            .unwrap_err();
            assert_eq!(err.variable, "QUESTPATH_REDIS_PREFIX", "{prefix}");
        }
    }

    #[test]
    fn replication_renders_cql() {
        assert_eq!(
            Replication::parse("3").unwrap().to_cql(),
            "{'class': 'NetworkTopologyStrategy', 'replication_factor': 3}"
        );
        assert_eq!(
            Replication::parse("simple:1").unwrap().to_cql(),
            "{'class': 'SimpleStrategy', 'replication_factor': 1}"
        );
        assert_eq!(
            Replication::parse("dc1:3, dc2:2").unwrap().to_cql(),
            "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2}"
        );
    }
}
