//! The real client address behind reverse proxies.
//!
//! `X-Forwarded-For` is a list each proxy appends to: `client, proxy1, proxy2`, the
//! TCP peer being the last proxy. Anyone can send the header, so only the entries
//! added by proxies we trust are believed: the list is read from the right, trusted
//! proxies are skipped, and the first untrusted address is the client. Whatever stands
//! to its left was written by that client and is ignored.

use std::net::{IpAddr, SocketAddr};

use actix_web::http::header::HeaderMap;
use ipnet::IpNet;

/// Name of the forwarding header (the de-facto standard one; `Forwarded` is not used
/// by the load balancers we deploy behind).
pub const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The client address of a request that arrived from `peer` with `headers`.
pub fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all(X_FORWARDED_FOR)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        match parse_entry(entry) {
            Some(addr) if is_trusted(addr, trusted) => client = addr,
            Some(addr) => return addr,
            // Garbage (or `unknown`) from a trusted hop: the last address we could
            // verify is the best we know.
            None => return client,
        }
    }
    // Every hop was a trusted proxy: the left-most is the origin.
    client
}

fn is_trusted(addr: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&addr))
}

/// An entry is an address, optionally with a port (`1.2.3.4:5678`, `[2001:db8::1]:80`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|addr| addr.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(
                X_FORWARDED_FOR.parse().unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let h = headers(&["203.0.113.9"]);
        assert_eq!(
            client_addr(ip("198.51.100.7"), &h, &nets(&["10.0.0.0/8"])),
            ip("198.51.100.7")
        );
        assert_eq!(client_addr(ip("10.0.0.1"), &h, &[]), ip("10.0.0.1"));
    }

    #[test]
    fn the_right_most_untrusted_address_is_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        // The client forged the first entry; the proxy appended the real address.
        let h = headers(&["1.1.1.1, 203.0.113.9, 10.0.0.2"]);
        assert_eq!(client_addr(ip("10.0.0.1"), &h, &trusted), ip("203.0.113.9"));
        // Several header lines are one list, in order.
        let h = headers(&["1.1.1.1", "203.0.113.9:4711"]);
        assert_eq!(client_addr(ip("10.0.0.1"), &h, &trusted), ip("203.0.113.9"));
    }

    #[test]
    fn trusted_hops_only_and_garbage_fall_back_to_the_last_known_address() {
        let trusted = nets(&["10.0.0.0/8"]);
        let h = headers(&["10.0.0.5, 10.0.0.2"]);
        assert_eq!(client_addr(ip("10.0.0.1"), &h, &trusted), ip("10.0.0.5"));
        let h = headers(&["unknown, 10.0.0.2"]);
        assert_eq!(client_addr(ip("10.0.0.1"), &h, &trusted), ip("10.0.0.2"));
        assert_eq!(
            client_addr(ip("10.0.0.1"), &HeaderMap::new(), &trusted),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_networks() {
        let h = headers(&["[2001:db8::1]:80"]);
        assert_eq!(
            client_addr(ip("::ffff:127.0.0.1"), &h, &nets(&["127.0.0.1/32"])),
            ip("2001:db8::1")
        );
    }
}
