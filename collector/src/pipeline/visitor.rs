//! The daily visitor id: a keyed hash of the site, the full client address
//! and the user agent, under a random salt that changes every UTC day. The
//! site is inside the hash, so one person has unrelated ids on two sites;
//! the salt is destroyed after its day, so nobody can link two days.

use sha2::{Digest, Sha256};
use std::net::IpAddr;

/// A daily salt: 128 random bits.
pub type Salt = [u8; 16];

/// Days since 1970-01-01, UTC.
pub fn utc_day(millis: i64) -> i64 {
    millis.div_euclid(86_400_000)
}

/// Gives the salt of a UTC day, when known.
pub trait SaltSource: Send + Sync + std::fmt::Debug {
    fn salt(&self, day: i64) -> Option<Salt>;
}

/// The id: the first 64 bits of SHA-256(salt, site, address, user agent).
pub fn visitor_id(salt: &Salt, site_id: &str, ip: IpAddr, user_agent: &str) -> u64 {
    let address = match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    };
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(site_id.as_bytes());
    hasher.update([0xff]); // never in a site id: separates it from the address
    hasher.update(address);
    hasher.update(user_agent.as_bytes());
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn stable_for_the_same_inputs_and_distinct_otherwise() {
        let salt = [7u8; 16];
        let base = visitor_id(&salt, "a", ip("203.0.113.9"), UA);
        assert_eq!(base, visitor_id(&salt, "a", ip("203.0.113.9"), UA));
        assert_eq!(base, visitor_id(&salt, "a", ip("::ffff:203.0.113.9"), UA));
        for other in [
            visitor_id(&[8u8; 16], "a", ip("203.0.113.9"), UA),
            visitor_id(&salt, "b", ip("203.0.113.9"), UA),
            visitor_id(&salt, "a", ip("203.0.113.10"), UA),
            visitor_id(&salt, "a", ip("203.0.113.9"), "curl/8"),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn days_are_utc() {
        assert_eq!(utc_day(0), 0);
        assert_eq!(utc_day(86_399_999), 0);
        assert_eq!(utc_day(86_400_000), 1);
        assert_eq!(utc_day(-1), -1);
    }
}
