//! The client's address (contract section 15): the connection's peer, unless that peer is a
//! trusted proxy (`server.trusted_proxies`); then the right-most `X-Forwarded-For` entry that is
//! not itself a trusted proxy, so an entry the client forged at the left never wins.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http::{HeaderMap, Request};

use crate::config::AddressRange;

/// The connection's peer, in every request's extensions (the accept loop puts it there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer(pub SocketAddr);

/// The client address of a request, in its extensions once [`ClientAddrs::mark`] saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The proxies whose `X-Forwarded-For` is believed. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct ClientAddrs {
    trusted: Arc<[AddressRange]>,
}

impl ClientAddrs {
    pub fn new(trusted: &[AddressRange]) -> Self {
        Self {
            trusted: trusted.into(),
        }
    }

    /// Puts the [`ClientAddr`] of `request` in its extensions, when the connection's peer is
    /// known.
    pub fn mark_in_place<B>(&self, request: &mut Request<B>) {
        if let Some(Peer(peer)) = request.extensions().get::<Peer>().copied() {
            let client = self.client_of(peer.ip(), request.headers());
            request.extensions_mut().insert(ClientAddr(client));
        }
    }

    /// The client behind `peer`: walks `X-Forwarded-For` from the right while each hop is a
    /// trusted proxy. An entry that is not an address stops the walk at the hop that added it.
    pub fn client_of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.is_trusted(client) {
            return client;
        }
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect::<Vec<_>>();
        for entry in forwarded.iter().rev() {
            let Ok(address) = entry.trim().parse::<IpAddr>() else {
                break;
            };
            client = address.to_canonical();
            if !self.is_trusted(client) {
                break;
            }
        }
        client
    }

    fn is_trusted(&self, address: IpAddr) -> bool {
        self.trusted.iter().any(|range| range.contains(address))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(trusted: &[&str]) -> ClientAddrs {
        let ranges: Vec<_> = trusted
            .iter()
            .map(|t| AddressRange::parse(t).expect("a range"))
            .collect();
        ClientAddrs::new(&ranges)
    }

    fn client(trusted: &[&str], peer: &str, forwarded: &[&str]) -> String {
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append("x-forwarded-for", value.parse().expect("a header value"));
        }
        let peer = peer.parse().expect("an address");
        addrs(trusted).client_of(peer, &headers).to_string()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        assert_eq!(client(&[], "198.51.100.7", &["10.0.0.1"]), "198.51.100.7");
        let lb = ["10.0.0.0/8"];
        assert_eq!(client(&lb, "198.51.100.7", &["10.0.0.1"]), "198.51.100.7");
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_entry_wins() {
        let lb = ["10.0.0.0/8", "2001:db8::/32"];
        assert_eq!(client(&lb, "10.0.0.2", &["203.0.113.9"]), "203.0.113.9");
        // A forged left-most entry never wins over what the proxy appended.
        let forged = ["192.0.2.1, 203.0.113.9"];
        assert_eq!(client(&lb, "10.0.0.2", &forged), "203.0.113.9");
        // Proxies that forward to proxies are skipped, across several headers too.
        let chain = ["203.0.113.9, 10.1.1.1", "10.2.2.2"];
        assert_eq!(client(&lb, "10.0.0.2", &chain), "203.0.113.9");
        assert_eq!(
            client(&lb, "2001:db8::1", &["2001:db8::2, 2a00::5"]),
            "2a00::5"
        );
    }

    #[test]
    fn without_a_usable_entry_the_last_trusted_hop_is_the_client() {
        let lb = ["10.0.0.0/8"];
        assert_eq!(client(&lb, "10.0.0.2", &[]), "10.0.0.2");
        assert_eq!(client(&lb, "10.0.0.2", &["10.0.0.3"]), "10.0.0.3");
        assert_eq!(client(&lb, "10.0.0.2", &["203.0.113.9, junk"]), "10.0.0.2");
    }

    #[test]
    fn ipv4_written_as_ipv6_is_the_ipv4_address() {
        assert_eq!(
            client(&["127.0.0.1"], "::ffff:127.0.0.1", &["::ffff:203.0.113.9"]),
            "203.0.113.9"
        );
    }
}
