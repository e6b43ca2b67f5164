//! The client's address: the TCP peer, or, when the peer is a trusted reverse proxy
//! (`TRUSTED_PROXIES`), the right-most `X-Forwarded-For` hop that is not one.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName};
use ipnet::IpNet;

static FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The reverse proxies whose `X-Forwarded-For` names the client (empty: none, the TCP peer is
/// the client).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    /// Parses `TRUSTED_PROXIES`: comma-separated addresses or CIDR ranges.
    pub fn parse(text: &str) -> Result<Self, String> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .map(|n| n.trunc())
                    .or_else(|_| s.parse::<IpAddr>().map(|ip| IpNet::from(ip.to_canonical())))
                    .map_err(|_| {
                        format!(
                            "TRUSTED_PROXIES: {s:?} is neither an address nor a CIDR range (e.g. 10.0.0.0/8)"
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|nets| Self(nets.into()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client of a request that reached the console from `peer` with `headers`: the peer
    /// itself unless it is trusted; else the right-most `X-Forwarded-For` hop that is not a
    /// trusted proxy (hops to its left were written by the client and prove nothing). When
    /// every hop is trusted, or a hop is unreadable, the last trusted hop reached.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let hops: Vec<&str> = headers
            .get_all(&FORWARDED_FOR)
            .iter()
            .flat_map(|v| v.to_str().unwrap_or(",").split(','))
            .collect();
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop.trim()) else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`, `[::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The request's client address (see [`TrustedProxies::client`]); unspecified when the server
/// gave no peer address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// The client of a request's parts, `trusted` deciding whom to believe.
    pub fn of(
        extensions: &axum::http::Extensions,
        headers: &HeaderMap,
        trusted: &TrustedProxies,
    ) -> Self {
        let ip = match extensions.get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(peer)) => trusted.client(peer.ip(), headers),
            None => IpAddr::from([0, 0, 0, 0]),
        };
        Self(ip)
    }
}

impl<S> FromRequestParts<S> for ClientAddr
where
    TrustedProxies: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(
            &parts.extensions,
            &parts.headers,
            &TrustedProxies::from_ref(state),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(&FORWARDED_FOR, v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_right_most_untrusted_hop_from_a_trusted_peer_only() {
        let t = TrustedProxies::parse(" 10.0.0.0/8, 192.0.2.7 ,::1").unwrap();
        let lb = ip("10.1.2.3");
        // Not a trusted peer: its header is ignored.
        assert_eq!(
            t.client(ip("198.51.100.9"), &xff(&["203.0.113.5"])),
            ip("198.51.100.9")
        );
        assert_eq!(t.client(lb, &xff(&["203.0.113.5"])), ip("203.0.113.5"));
        // The client wrote the left part; the proxies appended the rest.
        assert_eq!(
            t.client(lb, &xff(&["1.1.1.1, 203.0.113.5", "192.0.2.7"])),
            ip("203.0.113.5")
        );
        assert_eq!(t.client(lb, &xff(&["203.0.113.5:4711"])), ip("203.0.113.5"));
        assert_eq!(
            t.client(lb, &xff(&["[2001:db8::1]:443"])),
            ip("2001:db8::1")
        );
        // Every hop trusted, none, or garbage: the last trusted one reached.
        assert_eq!(t.client(lb, &xff(&["10.9.9.9"])), ip("10.9.9.9"));
        assert_eq!(t.client(lb, &HeaderMap::new()), lb);
        assert_eq!(
            t.client(lb, &xff(&["203.0.113.5, junk, 10.2.2.2"])),
            ip("10.2.2.2")
        );
        assert_eq!(
            t.client(ip("::ffff:10.0.0.1"), &xff(&["203.0.113.5"])),
            ip("203.0.113.5")
        );
        // Nothing configured: always the peer.
        let none = TrustedProxies::default();
        assert!(none.is_empty());
        assert_eq!(none.client(lb, &xff(&["203.0.113.5"])), lb);
    }

    #[test]
    fn bad_entries_are_named() {
        let e = TrustedProxies::parse("10.0.0.0/8, proxy.local").unwrap_err();
        assert!(
            e.contains("proxy.local") && e.contains("TRUSTED_PROXIES"),
            "{e}"
        );
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("").unwrap().is_empty());
    }
}
