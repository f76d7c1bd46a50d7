//! The server under test: a plain `http://` address on the loopback network, nothing
//! else. The generator must never send load to another machine (a typo in `--url` must
//! not turn a benchmark into an attack), so the address is checked before anything runs.

use std::net::{Ipv4Addr, SocketAddrV4};

use anyhow::{Context, bail};

/// A checked loopback target.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http://127.0.0.1:8080`, without a trailing slash.
    pub base: String,
    /// The server's socket address (IPv4 loopback).
    pub addr: SocketAddrV4,
}

impl Target {
    /// Parses `http://HOST:PORT` where HOST is `localhost` or an address in 127.0.0.0/8.
    /// Anything else (another scheme, a name, a path, an address off this machine) is
    /// refused with the reason.
    pub fn parse(url: &str) -> anyhow::Result<Target> {
        let rest = url
            .strip_prefix("http://")
            .with_context(|| format!("{url:?}: only plain http:// targets are supported"))?;
        let authority = rest.trim_end_matches('/');
        if authority.contains('/') || authority.contains('?') || authority.contains('@') {
            bail!("{url:?}: give only scheme, host and port (http://127.0.0.1:8080)");
        }
        let (host, port) = authority
            .rsplit_once(':')
            .with_context(|| format!("{url:?}: the port is missing"))?;
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .with_context(|| format!("{url:?}: {port:?} is not a port"))?;
        let ip = if host.eq_ignore_ascii_case("localhost") {
            Ipv4Addr::LOCALHOST
        } else {
            host.parse::<Ipv4Addr>()
                .with_context(|| format!("{url:?}: the host must be localhost or 127.x.y.z"))?
        };
        if !ip.is_loopback() {
            bail!(
                "{url:?}: {ip} is not a loopback address; this generator only targets 127.0.0.0/8"
            );
        }
        let addr = SocketAddrV4::new(ip, port);
        Ok(Target {
            base: format!("http://{addr}"),
            addr,
        })
    }

    /// The absolute URL of a path (`/api/v1/me`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The websocket URL for a ticket.
    pub fn ws_url(&self, ticket: &str) -> String {
        format!("ws://{}/api/v1/ws?ticket={ticket}", self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_targets_are_accepted() {
        let t = Target::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!(t.base, "http://127.0.0.1:8080");
        assert_eq!(t.url("/health"), "http://127.0.0.1:8080/health");
        assert_eq!(
            Target::parse("http://localhost:9").unwrap().base,
            "http://127.0.0.1:9"
        );
        assert!(Target::parse("http://127.3.4.5:80").is_ok());
    }

    #[test]
    fn anything_off_this_machine_is_refused() {
        for url in [
            "http://10.0.0.1:80",
            "http://192.168.1.2:8080",
            "http://example.org:80",
            "https://127.0.0.1:443",
            "http://127.0.0.1",
            "http://127.0.0.1:0",
            "http://127.0.0.1:80/api",
            "http://user@127.0.0.1:80",
            "127.0.0.1:80",
        ] {
            assert!(Target::parse(url).is_err(), "{url} should be refused");
        }
    }
}
