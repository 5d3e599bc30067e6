//! The ClickHouse schema of Mesure: numbered migrations, their rendering for
//! one node or a cluster, the runner that applies and records them, and the
//! retention (TTL) of raw data.
//!
//! Architecture invariant: only this crate names tables in DDL; the collector
//! and the dashboard read and write the tables it creates.

mod connection;
mod migrate;
mod migrations;
mod render;
mod retention;

pub use connection::{ClickHouseConfig, TimeoutError, Timeouts, connect_with_timeout};
pub use migrate::{Expiry, MIGRATIONS_TABLE, MigrateError, Migrator, Report};
pub use migrations::{MIGRATIONS, Migration, latest_version};
pub use render::{RenderError, Target, render};
pub use retention::{Retention, RetentionError};
