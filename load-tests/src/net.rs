//! Client sockets and where they come from.
//!
//! One TCP 4-tuple needs a distinct local port, and one source address has only the
//! ephemeral range (about 28,000 ports by default) towards one server port. Linux routes
//! all of 127.0.0.0/8 to the loopback device, so binding client sockets to 127.0.0.2,
//! 127.0.0.3, ... multiplies the ports available: that is how one machine holds more
//! than 64k sockets to one server. The addresses stay on loopback by construction.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, bail};
use tokio::net::{TcpSocket, TcpStream};

/// Most source addresses one run may use (127.0.0.2 ..= 127.0.0.201).
pub const MAX_SOURCES: usize = 200;

/// Round-robin over the source addresses 127.0.0.2 ..= 127.0.0.(1 + n).
#[derive(Debug)]
pub struct Sources {
    addrs: Vec<Ipv4Addr>,
    next: AtomicUsize,
}

impl Sources {
    /// `n` addresses from 127.0.0.2 on (1 to [`MAX_SOURCES`]).
    pub fn new(n: usize) -> anyhow::Result<Sources> {
        if n == 0 || n > MAX_SOURCES {
            bail!("--sources must be 1 to {MAX_SOURCES}, not {n}");
        }
        let addrs = (0..n)
            .map(|i| Ipv4Addr::new(127, 0, 0, 2 + i as u8))
            .collect();
        Ok(Sources {
            addrs,
            next: AtomicUsize::new(0),
        })
    }

    /// Every address, in order.
    pub fn all(&self) -> &[Ipv4Addr] {
        &self.addrs
    }

    /// The address for the i-th socket (stable: the same i gives the same address).
    pub fn nth(&self, i: usize) -> Ipv4Addr {
        self.addrs[i % self.addrs.len()]
    }

    /// The next address in turn.
    pub fn next(&self) -> Ipv4Addr {
        self.nth(self.next.fetch_add(1, Ordering::Relaxed))
    }
}

/// Opens a TCP connection from `source` (any free port) to `target`, with Nagle off:
/// every websocket frame is a small request that must leave at once.
pub async fn connect_from(source: Ipv4Addr, target: SocketAddrV4) -> anyhow::Result<TcpStream> {
    let socket = TcpSocket::new_v4().context("creating a socket")?;
    socket
        .bind(SocketAddr::new(IpAddr::V4(source), 0))
        .with_context(|| format!("binding a client socket to {source}"))?;
    let stream = socket
        .connect(SocketAddr::V4(target))
        .await
        .with_context(|| format!("connecting from {source} to {target}"))?;
    stream.set_nodelay(true).context("setting TCP_NODELAY")?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_start_at_127_0_0_2_and_wrap() {
        let s = Sources::new(3).unwrap();
        assert_eq!(s.all()[0], Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(s.nth(2), Ipv4Addr::new(127, 0, 0, 4));
        assert_eq!(s.nth(3), Ipv4Addr::new(127, 0, 0, 2));
        assert!(Sources::new(0).is_err());
        assert!(Sources::new(MAX_SOURCES + 1).is_err());
        assert_eq!(
            Sources::new(MAX_SOURCES).unwrap().nth(MAX_SOURCES - 1),
            Ipv4Addr::new(127, 0, 0, 201)
        );
    }
}
