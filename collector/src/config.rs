//! The collector's settings: the `[collector]` and `[geoip]` sections of the
//! configuration file, each key also settable as `MESURE_<SECTION>_<KEY>`.

use crate::delivery::BatchLimits;
use crate::pipeline::network::{ForwardedHeader, Network, NetworkError};
use crate::salt::{DEFAULT_DAYS_AHEAD, MAX_DAYS_AHEAD};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `[collector]`, as written. Every key has a default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CollectorConfig {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Connections served at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Time a client has to send a request's head, then its body.
    pub read_timeout_ms: u64,
    /// Proxies in front of the collector (CIDR): only behind them is a
    /// forwarded client address believed.
    pub trusted_proxies: Vec<IpNet>,
    /// The one header those proxies write the client's address in:
    /// "x-forwarded-for" or "forwarded". The other is ignored, since a proxy
    /// passes it through from the client untouched.
    pub forwarded_header: ForwardedHeader,
    /// IPv4 prefix kept before geolocation: 24 or coarser.
    pub ipv4_prefix: u8,
    /// IPv6 prefix kept before geolocation: 48 or coarser.
    pub ipv6_prefix: u8,
    /// Drop hits that carry `DNT: 1` or `Sec-GPC: 1`.
    pub honor_dnt_and_gpc: bool,
    /// Days after today whose salt is made in advance (1 to 7): hits keep
    /// flowing through a ClickHouse outage of that many days.
    pub salt_days_ahead: u32,
    /// Minutes without a hit that end a visit.
    pub session_timeout_minutes: u32,
    /// Visits held in memory at most, allocated at start (900,000: about 35 MB).
    /// Past it, a new visitor's hits each count as a visit until older ones end.
    pub max_sessions: usize,
    /// User agents whose parsed facts are cached.
    pub user_agent_cache: usize,
    /// A batch is inserted when it has this many rows...
    pub batch_rows: usize,
    /// ...or this many bytes...
    pub batch_bytes: usize,
    /// ...or when its oldest row has waited this long.
    pub batch_delay_ms: u64,
    /// How long queued rows are retried at shutdown.
    pub shutdown_grace_seconds: u64,
    /// How often the site registry is reloaded.
    pub sites_refresh_seconds: u64,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        let limits = BatchLimits::default();
        CollectorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_connections: 10_000,
            read_timeout_ms: 10_000,
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeader::default(),
            ipv4_prefix: 24,
            ipv6_prefix: 48,
            honor_dnt_and_gpc: true,
            salt_days_ahead: DEFAULT_DAYS_AHEAD,
            session_timeout_minutes: 30,
            max_sessions: 900_000,
            user_agent_cache: 50_000,
            batch_rows: limits.max_rows,
            batch_bytes: limits.max_bytes,
            batch_delay_ms: u64::try_from(limits.max_delay.as_millis()).unwrap_or(1000),
            shutdown_grace_seconds: 30,
            sites_refresh_seconds: 10,
        }
    }
}

/// `[geoip]`, as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeoConfig {
    /// MaxMind DB files, tried in order (MaxMind, DB-IP or ip-location-db layouts).
    pub databases: Vec<PathBuf>,
    /// Truncated addresses whose place is cached.
    pub cache: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("collector: {0}")]
    Network(#[from] NetworkError),
    #[error("{key} must be at least {min}")]
    TooSmall { key: &'static str, min: u64 },
    #[error("{key} must be at most {max}")]
    TooLarge { key: &'static str, max: u64 },
}

impl CollectorConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.network()?;
        for (key, value, min) in [
            (
                "collector.session_timeout_minutes",
                u64::from(self.session_timeout_minutes),
                1,
            ),
            ("collector.max_sessions", self.max_sessions as u64, 1),
            ("collector.batch_rows", self.batch_rows as u64, 1),
            ("collector.batch_bytes", self.batch_bytes as u64, 1024),
            ("collector.batch_delay_ms", self.batch_delay_ms, 1),
            (
                "collector.sites_refresh_seconds",
                self.sites_refresh_seconds,
                1,
            ),
            (
                "collector.salt_days_ahead",
                u64::from(self.salt_days_ahead),
                1,
            ),
        ] {
            if value < min {
                return Err(ConfigError::TooSmall { key, min });
            }
        }
        if self.salt_days_ahead > MAX_DAYS_AHEAD {
            return Err(ConfigError::TooLarge {
                key: "collector.salt_days_ahead",
                max: u64::from(MAX_DAYS_AHEAD),
            });
        }
        Ok(())
    }

    pub fn network(&self) -> Result<Network, NetworkError> {
        Network::new(
            self.trusted_proxies.clone(),
            self.forwarded_header,
            self.ipv4_prefix,
            self.ipv6_prefix,
        )
    }

    pub fn batch_limits(&self) -> BatchLimits {
        BatchLimits {
            max_rows: self.batch_rows,
            max_bytes: self.batch_bytes,
            max_delay: Duration::from_millis(self.batch_delay_ms),
        }
    }
}
