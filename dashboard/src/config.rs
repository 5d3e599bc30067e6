//! The `[dashboard]` section of the configuration, each key also settable
//! as `MESURE_DASHBOARD_<KEY>`.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardConfig {
    /// Address and port to listen on. A loopback address only, until
    /// accounts and access control exist: put a reverse proxy that
    /// authenticates in front of it meanwhile.
    pub listen: SocketAddr,
    /// How often the site registry is reloaded.
    pub sites_refresh_seconds: u64,
    /// How often finished days are looked for and sealed (see the README's
    /// "Fast answers"): also how long late hits may take to show in them.
    pub seal_interval_seconds: u64,
    /// Memory kept for answers over sealed days, in MiB (0: none). They
    /// never change, so a page asked again reads only what is not sealed.
    pub sealed_cache_mib: u64,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        DashboardConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            sites_refresh_seconds: 10,
            seal_interval_seconds: 60,
            sealed_cache_mib: 64,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "dashboard.listen {0} is not a loopback address: the dashboard has no access control yet"
    )]
    NotLoopback(SocketAddr),
    #[error("dashboard.sites_refresh_seconds must be at least 1")]
    Refresh,
    #[error("dashboard.seal_interval_seconds must be at least 1")]
    Seal,
}

impl DashboardConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.listen.ip().is_loopback() {
            return Err(ConfigError::NotLoopback(self.listen));
        }
        if self.sites_refresh_seconds == 0 {
            return Err(ConfigError::Refresh);
        }
        if self.seal_interval_seconds == 0 {
            return Err(ConfigError::Seal);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_is_allowed() {
        assert_eq!(DashboardConfig::default().validate(), Ok(()));
        let open = DashboardConfig {
            listen: "0.0.0.0:8081".parse().expect("addr"),
            ..DashboardConfig::default()
        };
        assert!(matches!(open.validate(), Err(ConfigError::NotLoopback(_))));
        let v6 = DashboardConfig {
            listen: "[::1]:8081".parse().expect("addr"),
            ..DashboardConfig::default()
        };
        assert_eq!(v6.validate(), Ok(()));
        let never = DashboardConfig {
            seal_interval_seconds: 0,
            ..DashboardConfig::default()
        };
        assert_eq!(never.validate(), Err(ConfigError::Seal));
    }
}
