//! The `[clickhouse]` section of the configuration: where Mesure's tables are.

use crate::{RenderError, Target};
use clickhouse::Client;
use serde::{Deserialize, Serialize};

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
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        ClickHouseConfig {
            url: "http://127.0.0.1:8123".to_owned(),
            user: "default".to_owned(),
            password: String::new(),
            database: "mesure".to_owned(),
            cluster: String::new(),
        }
    }
}

impl ClickHouseConfig {
    /// Where migrations apply; also validates the names.
    pub fn target(&self) -> Result<Target, RenderError> {
        Target::new(
            &self.database,
            (!self.cluster.is_empty()).then_some(self.cluster.as_str()),
        )
    }

    /// A client with LZ4 compression, bound to no database.
    pub fn server_client(&self) -> Client {
        Client::default()
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
