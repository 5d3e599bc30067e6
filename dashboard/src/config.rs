//! The `[dashboard]` section of the configuration, each key also settable
//! as `MESURE_DASHBOARD_<KEY>`.

use ipnet::IpNet;
use mesure_sites::network::{ForwardedHeader, Network};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardConfig {
    /// Address and port to listen on. Beyond a loopback address, serve it
    /// through a reverse proxy terminating TLS: the session cookie is then
    /// `Secure`.
    pub listen: SocketAddr,
    /// Proxies in front of the dashboard (CIDR): only a request from one of
    /// them has its client address (what sign-in failures are counted
    /// under and the audit log shows, truncated) read from a header.
    pub trusted_proxies: Vec<IpNet>,
    /// The one header those proxies write the client's address in:
    /// "x-forwarded-for" or "forwarded".
    pub forwarded_header: ForwardedHeader,
    /// How often the site registry is reloaded.
    pub sites_refresh_seconds: u64,
    /// How often finished days are looked for and sealed (see the README's
    /// "Fast answers"): also how long late hits may take to show in them.
    pub seal_interval_seconds: u64,
    /// Run `mesure expire` once a day (one replica a day, through the
    /// accounts store), so that nothing outlives the retention by more
    /// than a day even where TTL merges lag.
    pub daily_expiry: bool,
    /// Memory kept for answers over sealed days, in MiB (0: none). They
    /// never change, so a page asked again reads only what is not sealed.
    pub sealed_cache_mib: u64,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        DashboardConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeader::default(),
            sites_refresh_seconds: 10,
            seal_interval_seconds: 60,
            sealed_cache_mib: 64,
            daily_expiry: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("dashboard.sites_refresh_seconds must be at least 1")]
    Refresh,
    #[error("dashboard.seal_interval_seconds must be at least 1")]
    Seal,
}

impl DashboardConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.sites_refresh_seconds == 0 {
            return Err(ConfigError::Refresh);
        }
        if self.seal_interval_seconds == 0 {
            return Err(ConfigError::Seal);
        }
        Ok(())
    }

    /// How client addresses are read and truncated (/24, /48).
    pub fn network(&self) -> Network {
        Network::new(
            self.trusted_proxies.clone(),
            self.forwarded_header,
            mesure_sites::network::MAX_IPV4_PREFIX,
            mesure_sites::network::MAX_IPV6_PREFIX,
        )
        .expect("the finest prefixes allowed are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_address_may_be_listened_on_and_intervals_are_checked() {
        assert_eq!(DashboardConfig::default().validate(), Ok(()));
        let open = DashboardConfig {
            listen: "0.0.0.0:8081".parse().expect("addr"),
            ..DashboardConfig::default()
        };
        assert_eq!(open.validate(), Ok(()));
        let never = DashboardConfig {
            seal_interval_seconds: 0,
            ..DashboardConfig::default()
        };
        assert_eq!(never.validate(), Err(ConfigError::Seal));
    }
}
