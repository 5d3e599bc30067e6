//! The client's address, and its truncation.
//!
//! The socket's peer is the client unless it is a configured trusted proxy;
//! then the one header the proxy is configured to set (`X-Forwarded-For` or
//! `Forwarded`, never both) is read from the right, skipping trusted
//! proxies, so a client cannot spoof its address by sending a header
//! itself: a proxy appends to `X-Forwarded-For` and passes `Forwarded`
//! through untouched, or the other way round, and only the header it writes
//! can be believed. The full address is used for the visitor hash and then
//! dropped: only the truncated prefix goes further.

use http::{HeaderMap, HeaderName};
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The finest prefixes allowed; configuration may only make them coarser.
pub const MAX_IPV4_PREFIX: u8 = 24;
pub const MAX_IPV6_PREFIX: u8 = 48;

/// The header trusted proxies put the client's address in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For` (nginx's `$proxy_add_x_forwarded_for`, HAProxy's
    /// `option forwardfor`, most load balancers).
    #[default]
    #[serde(rename = "x-forwarded-for")]
    XForwardedFor,
    /// `Forwarded: for=` (RFC 7239).
    #[serde(rename = "forwarded")]
    Forwarded,
}

#[derive(Debug, Clone)]
pub struct Network {
    trusted_proxies: Vec<IpNet>,
    header: ForwardedHeader,
    ipv4_prefix: u8,
    ipv6_prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    #[error(
        "ipv4_prefix {0} is finer than /{MAX_IPV4_PREFIX}: addresses must be truncated to /24 or coarser"
    )]
    Ipv4Prefix(u8),
    #[error(
        "ipv6_prefix {0} is finer than /{MAX_IPV6_PREFIX}: addresses must be truncated to /48 or coarser"
    )]
    Ipv6Prefix(u8),
}

impl Network {
    pub fn new(
        trusted_proxies: Vec<IpNet>,
        header: ForwardedHeader,
        ipv4_prefix: u8,
        ipv6_prefix: u8,
    ) -> Result<Network, NetworkError> {
        if ipv4_prefix > MAX_IPV4_PREFIX {
            return Err(NetworkError::Ipv4Prefix(ipv4_prefix));
        }
        if ipv6_prefix > MAX_IPV6_PREFIX {
            return Err(NetworkError::Ipv6Prefix(ipv6_prefix));
        }
        Ok(Network {
            trusted_proxies,
            header,
            ipv4_prefix,
            ipv6_prefix,
        })
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    /// The client's address.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusted(peer) {
            return peer;
        }
        let hops = match self.header {
            ForwardedHeader::XForwardedFor => x_forwarded_for(headers),
            ForwardedHeader::Forwarded => forwarded(headers),
        };
        // Rightmost first: the nearest hop was added by our own proxy.
        for hop in hops.iter().rev() {
            let hop = canonical(*hop);
            if !self.trusted(hop) {
                return hop;
            }
        }
        hops.first().copied().map_or(peer, canonical)
    }

    /// The address with its host part zeroed.
    pub fn truncate(&self, ip: IpAddr) -> IpAddr {
        match canonical(ip) {
            IpAddr::V4(v4) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.ipv4_prefix))
                    .unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.ipv6_prefix))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        }
    }
}

/// IPv4-mapped IPv6 addresses are IPv4 addresses.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The addresses of `Forwarded: for=` (RFC 7239), in order. Unparsable
/// entries end the list: nothing left of them is trusted.
fn forwarded(headers: &HeaderMap) -> Vec<IpAddr> {
    let mut hops = Vec::new();
    for value in headers.get_all(http::header::FORWARDED) {
        let Ok(value) = value.to_str() else {
            return Vec::new();
        };
        for element in value.split(',') {
            let Some(node) = element
                .split(';')
                .filter_map(|pair| pair.trim().split_once('='))
                .find(|(k, _)| k.eq_ignore_ascii_case("for"))
                .map(|(_, v)| v.trim().trim_matches('"'))
            else {
                continue;
            };
            match parse_node(node) {
                Some(ip) => hops.push(ip),
                None => hops.clear(),
            }
        }
    }
    hops
}

/// The addresses of `X-Forwarded-For`, in order; as [`forwarded`].
fn x_forwarded_for(headers: &HeaderMap) -> Vec<IpAddr> {
    let mut hops = Vec::new();
    for value in headers.get_all(X_FORWARDED_FOR) {
        let Ok(value) = value.to_str() else {
            return Vec::new();
        };
        for item in value.split(',') {
            match parse_node(item.trim()) {
                Some(ip) => hops.push(ip),
                None => hops.clear(),
            }
        }
    }
    hops
}

/// `1.2.3.4`, `1.2.3.4:80`, `[2001:db8::1]`, `[2001:db8::1]:80` or `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    let (host, port) = node.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network_reading(header: ForwardedHeader) -> Network {
        Network::new(
            vec![
                "10.0.0.0/8".parse().expect("net"),
                "::1/128".parse().expect("net"),
            ],
            header,
            24,
            48,
        )
        .expect("valid")
    }

    fn network() -> Network {
        network_reading(ForwardedHeader::XForwardedFor)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                value.parse().expect("value"),
            );
        }
        map
    }

    type Headers<'a> = &'a [(&'a str, &'a str)];

    fn check(header: ForwardedHeader, cases: &[(&str, Headers<'_>, &str)]) {
        for (peer, pairs, expected) in cases {
            assert_eq!(
                network_reading(header).client_ip(ip(peer), &headers(pairs)),
                ip(expected),
                "{header:?} {peer} {pairs:?}"
            );
        }
    }

    #[test]
    fn client_ip_from_x_forwarded_for() {
        check(
            ForwardedHeader::XForwardedFor,
            &[
                // Untrusted peers: headers are ignored, whatever they say.
                (
                    "203.0.113.9",
                    &[("x-forwarded-for", "198.51.100.1")],
                    "203.0.113.9",
                ),
                // Trusted proxy: the rightmost untrusted hop.
                (
                    "10.0.0.2",
                    &[("x-forwarded-for", "198.51.100.1")],
                    "198.51.100.1",
                ),
                (
                    "10.0.0.2",
                    &[("x-forwarded-for", "6.6.6.6, 198.51.100.1, 10.0.0.7")],
                    "198.51.100.1",
                ),
                (
                    "10.0.0.2",
                    &[
                        ("x-forwarded-for", "6.6.6.6"),
                        ("x-forwarded-for", "198.51.100.1"),
                    ],
                    "198.51.100.1",
                ),
                // Garbage: nothing left of it is believed.
                (
                    "10.0.0.2",
                    &[("x-forwarded-for", "6.6.6.6, garbage, 198.51.100.1")],
                    "198.51.100.1",
                ),
                ("10.0.0.2", &[("x-forwarded-for", "garbage")], "10.0.0.2"),
                // Only proxies: the leftmost.
                (
                    "10.0.0.2",
                    &[("x-forwarded-for", "10.1.1.1, 10.0.0.3")],
                    "10.1.1.1",
                ),
                ("10.0.0.2", &[], "10.0.0.2"),
                ("::ffff:203.0.113.9", &[], "203.0.113.9"),
            ],
        );
    }

    #[test]
    fn client_ip_from_forwarded() {
        check(
            ForwardedHeader::Forwarded,
            &[
                (
                    "203.0.113.9",
                    &[("forwarded", "for=198.51.100.1")],
                    "203.0.113.9",
                ),
                (
                    "10.0.0.2",
                    &[("forwarded", "for=198.51.100.1;proto=https, for=10.0.0.9")],
                    "198.51.100.1",
                ),
                (
                    "10.0.0.2",
                    &[("forwarded", "for=\"[2001:db8:cafe::17]:4711\"")],
                    "2001:db8:cafe::17",
                ),
                (
                    "10.0.0.2",
                    &[("forwarded", "for=192.0.2.60:8080")],
                    "192.0.2.60",
                ),
                ("10.0.0.2", &[("forwarded", "for=unknown")], "10.0.0.2"),
            ],
        );
    }

    /// nginx appends the peer to `X-Forwarded-For` and passes a client's own
    /// `Forwarded` through: the client must not pick its address with it.
    #[test]
    fn a_client_cannot_pick_its_address_with_the_other_header() {
        let spoofed: Headers<'_> = &[
            ("forwarded", "for=6.6.6.6"),
            ("x-forwarded-for", "198.51.100.1"),
        ];
        check(
            ForwardedHeader::XForwardedFor,
            &[("10.0.0.2", spoofed, "198.51.100.1")],
        );
        // And the other way round, behind a proxy that writes `Forwarded`.
        let spoofed: Headers<'_> = &[
            ("x-forwarded-for", "6.6.6.6"),
            ("forwarded", "for=198.51.100.1"),
        ];
        check(
            ForwardedHeader::Forwarded,
            &[("10.0.0.2", spoofed, "198.51.100.1")],
        );
    }

    #[test]
    fn truncation() {
        let n = network();
        assert_eq!(n.truncate(ip("203.0.113.197")), ip("203.0.113.0"));
        assert_eq!(
            n.truncate(ip("2001:db8:cafe:1234:5678::1")),
            ip("2001:db8:cafe::")
        );
        assert_eq!(n.truncate(ip("::ffff:203.0.113.197")), ip("203.0.113.0"));
        let coarse = Network::new(Vec::new(), ForwardedHeader::default(), 16, 32).expect("valid");
        assert_eq!(coarse.truncate(ip("203.0.113.197")), ip("203.0.0.0"));
        assert_eq!(coarse.truncate(ip("2001:db8:cafe::1")), ip("2001:db8::"));
        let none = Network::new(Vec::new(), ForwardedHeader::default(), 0, 0).expect("valid");
        assert_eq!(none.truncate(ip("203.0.113.197")), ip("0.0.0.0"));
    }

    #[test]
    fn finer_prefixes_are_refused() {
        assert_eq!(
            Network::new(Vec::new(), ForwardedHeader::default(), 25, 48).err(),
            Some(NetworkError::Ipv4Prefix(25))
        );
        assert_eq!(
            Network::new(Vec::new(), ForwardedHeader::default(), 24, 56).err(),
            Some(NetworkError::Ipv6Prefix(56))
        );
    }
}
