//! The `[clickhouse]` section of the configuration: where Mesure's tables
//! are, and how long to wait for the server.

use crate::{RenderError, Target};
use clickhouse::Client;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClickHouseConfig {
    /// HTTP URL of ClickHouse (of a load balancer in front of a cluster).
    pub url: String,
    pub user: String,
    pub password: String,
    /// Database that holds Mesure's tables.
    pub database: String,
    /// Cluster for replicated and distributed tables; empty on one node.
    pub cluster: String,
    /// Time to open a connection to ClickHouse.
    pub connect_timeout_ms: u64,
    /// Time to send each chunk (about 1 MiB) of an insert.
    pub send_timeout_ms: u64,
    /// Time for ClickHouse's answer: a query's result, or an insert's once
    /// its rows are sent (materialized views included).
    pub receive_timeout_ms: u64,
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        let timeouts = Timeouts::default();
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        ClickHouseConfig {
            url: "http://127.0.0.1:8123".to_owned(),
            user: "default".to_owned(),
            password: String::new(),
            database: "mesure".to_owned(),
            cluster: String::new(),
            connect_timeout_ms: ms(timeouts.connect),
            send_timeout_ms: ms(timeouts.send),
            receive_timeout_ms: ms(timeouts.receive),
        }
    }
}

/// How long to wait for ClickHouse: without a bound, a server that accepts
/// connections and then stalls would hang whoever waits for it, for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To open a connection.
    pub connect: Duration,
    /// To send each chunk of an insert's body.
    pub send: Duration,
    /// For the answer.
    pub receive: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            send: Duration::from_secs(30),
            receive: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("clickhouse.{0} must be at least 1")]
pub struct TimeoutError(&'static str);

impl ClickHouseConfig {
    /// Where migrations apply; also validates the names.
    pub fn target(&self) -> Result<Target, RenderError> {
        Target::new(
            &self.database,
            (!self.cluster.is_empty()).then_some(self.cluster.as_str()),
        )
    }

    pub fn timeouts(&self) -> Result<Timeouts, TimeoutError> {
        for (key, value) in [
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("send_timeout_ms", self.send_timeout_ms),
            ("receive_timeout_ms", self.receive_timeout_ms),
        ] {
            if value == 0 {
                return Err(TimeoutError(key));
            }
        }
        Ok(Timeouts {
            connect: Duration::from_millis(self.connect_timeout_ms),
            send: Duration::from_millis(self.send_timeout_ms),
            receive: Duration::from_millis(self.receive_timeout_ms),
        })
    }

    /// A client with LZ4 compression and the connect timeout, bound to no
    /// database.
    pub fn server_client(&self) -> Client {
        let connect = self
            .timeouts()
            .map_or(Timeouts::default().connect, |t| t.connect);
        connect_with_timeout(connect)
            .with_url(&self.url)
            .with_user(&self.user)
            .with_password(&self.password)
            .with_compression(clickhouse::Compression::Lz4)
    }

    /// A client bound to Mesure's database.
    pub fn client(&self) -> Client {
        self.server_client().with_database(&self.database)
    }
}

/// A client whose connections give up after `connect`; otherwise as the
/// crate's default (TCP keep-alive, idle connections closed before
/// ClickHouse's own keep-alive timeout).
pub fn connect_with_timeout(connect: Duration) -> Client {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(connect));
    connector.set_keepalive(Some(Duration::from_secs(60)));
    connector.set_nodelay(true);
    let http = HttpClient::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(2))
        .build(connector);
    Client::with_http_client(http)
}
