//! The HTTP server: deployment, listening address, data folder, worker threads,
//! shutdown, and who may call it (browser origins, trusted proxies).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::ConfigError;
use super::lookup::{Vars, bad, parse_ranged};

/// Which deployment this is; production refuses insecure defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

pub(super) fn environment(vars: &Vars) -> Result<Environment, ConfigError> {
    match vars
        .or_default("QUESTPATH_ENV")
        .to_ascii_lowercase()
        .as_str()
    {
        "development" | "dev" => Ok(Environment::Development),
        "production" | "prod" => Ok(Environment::Production),
        other => Err(bad(
            "QUESTPATH_ENV",
            format!("{other:?} is not an environment (expected development or production)"),
        )),
    }
}

pub(super) fn bind(vars: &Vars) -> Result<SocketAddr, ConfigError> {
    let text = vars.or_default("QUESTPATH_BIND");
    text.parse().map_err(|_| {
        bad(
            "QUESTPATH_BIND",
            format!("{text:?} is not a socket address (expected host:port, e.g. 127.0.0.1:8080)"),
        )
    })
}

pub(super) fn data_dir(vars: &Vars) -> PathBuf {
    PathBuf::from(vars.or_default("QUESTPATH_DATA_DIR"))
}

/// HTTP worker threads; `None`: one per core.
pub(super) fn workers(vars: &Vars) -> Result<Option<usize>, ConfigError> {
    vars.get("QUESTPATH_WORKERS")
        .map(|text| {
            parse_ranged(
                "QUESTPATH_WORKERS",
                &text,
                1..=1024,
                "a worker count (1 to 1024)",
            )
        })
        .transpose()
}

pub(super) fn shutdown_timeout(vars: &Vars) -> Result<Duration, ConfigError> {
    vars.ranged(
        "QUESTPATH_SHUTDOWN_TIMEOUT_SECS",
        0..=3600,
        "a number of seconds (0 to 3600)",
    )
    .map(Duration::from_secs)
}

/// The origins allowed to call with credentials. The default (`localhost:3000`, the old
/// frontend's development server) is a development convenience: in production an unset
/// variable allows no cross-origin call, since any page on a learner's own machine
/// could be served from that origin.
pub(super) fn cors_origins(
    vars: &Vars,
    environment: Environment,
) -> Result<Vec<String>, ConfigError> {
    if environment == Environment::Production && vars.get("QUESTPATH_CORS_ORIGINS").is_none() {
        return Ok(Vec::new());
    }
    parse_origins(&vars.or_default("QUESTPATH_CORS_ORIGINS"))
        .map_err(|p| bad("QUESTPATH_CORS_ORIGINS", p))
}

pub(super) fn trusted_proxies(vars: &Vars) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    parse_networks(&vars.or_default("QUESTPATH_TRUSTED_PROXIES"))
        .map_err(|p| bad("QUESTPATH_TRUSTED_PROXIES", p))
}

/// Comma-separated browser origins. Each must be exactly what a browser sends in
/// `Origin` (`scheme://host[:port]`, no path), because CORS compares them as strings;
/// `*` is refused since credentials are allowed. `none` means no origin at all.
fn parse_origins(value: &str) -> Result<Vec<String>, String> {
    if value.trim().eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    let mut origins = Vec::new();
    for origin in value.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let host = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        let plain = host.is_some_and(|h| {
            !h.is_empty()
                && h.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                })
        });
        if !plain {
            return Err(format!(
                "{origin:?} is not an origin (expected scheme://host[:port] without a path, e.g. https://app.example.org)"
            ));
        }
        origins.push(origin.to_string());
    }
    Ok(origins)
}

/// Comma-separated IP addresses or CIDR networks; a bare address is a one-address network.
fn parse_networks(value: &str) -> Result<Vec<ipnet::IpNet>, String> {
    let mut networks = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let network = match part.parse::<ipnet::IpNet>() {
            Ok(network) => network,
            Err(_) => part
                .parse::<std::net::IpAddr>()
                .map(ipnet::IpNet::from)
                .map_err(|_| format!("{part:?} is not an IP address or CIDR network"))?,
        };
        networks.push(network.trunc());
    }
    Ok(networks)
}

#[cfg(test)]
mod tests {
    use crate::config::tests::settings;

    #[test]
    fn origins_and_proxies_parse() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.cors_origins, vec!["http://localhost:3000".to_string()]);
        assert!(s.trusted_proxies.is_empty());
        let s = settings(&[
            (
                "QUESTPATH_CORS_ORIGINS",
                "https://app.example.org, http://localhost:3000",
            ),
            ("QUESTPATH_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1, ::1"),
        ])
        .unwrap();
        assert_eq!(s.cors_origins.len(), 2);
        assert_eq!(s.trusted_proxies.len(), 3);
        assert!(
            s.trusted_proxies
                .iter()
                .any(|n| n.contains(&"10.1.2.3".parse::<std::net::IpAddr>().unwrap()))
        );
        assert!(
            settings(&[("QUESTPATH_CORS_ORIGINS", "none")])
                .unwrap()
                .cors_origins
                .is_empty()
        );
    }

    #[test]
    fn production_allows_no_cross_origin_call_unless_told() {
        let key = "k".repeat(32);
        let production = [
            ("QUESTPATH_ENV", "production"),
            ("QUESTPATH_JWT_SECRET", &key),
        ];
        assert!(settings(&production).unwrap().cors_origins.is_empty());
        let told = settings(&[
            production[0],
            production[1],
            ("QUESTPATH_CORS_ORIGINS", "https://app.example.org"),
        ])
        .unwrap();
        assert_eq!(
            told.cors_origins,
            vec!["https://app.example.org".to_string()]
        );
    }
}
