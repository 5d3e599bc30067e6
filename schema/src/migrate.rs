//! Applies migrations, records them, keeps the TTLs at the configured
//! retention, and forces expiry on demand.

use crate::{MIGRATIONS, Migration, RenderError, Retention, Target, latest_version, render};
use clickhouse::Client;
use serde::{Deserialize, Serialize};

/// Where applied migrations are recorded, in the target database.
pub const MIGRATIONS_TABLE: &str = "schema_migrations";

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(
        "database {database} holds tables Mesure did not create ({tables}) and no \
         {MIGRATIONS_TABLE} table; point Mesure at an empty or Mesure-managed database"
    )]
    Unrecognised { database: String, tables: String },
    #[error(
        "database {database} is at schema version {found}, newer than this build \
         (which knows up to {known}); upgrade Mesure"
    )]
    Newer {
        database: String,
        found: u32,
        known: u32,
    },
    #[error(
        "migration {version} ({name}) differs from the one applied to {database}; \
         migrations must never change once applied"
    )]
    Changed {
        database: String,
        version: u32,
        name: String,
    },
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
}

/// What a run of [`Migrator::migrate`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Versions applied by this run, in order.
    pub applied: Vec<u32>,
    /// Tables whose TTL was changed to the configured retention.
    pub retention_changed: Vec<String>,
}

/// What a run of [`Migrator::expire`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expiry {
    /// `table/partition` dropped whole because every row in them had expired.
    pub dropped: Vec<String>,
    /// `table/partition` in which expired rows were deleted.
    pub materialized: Vec<String>,
    /// Salts deleted: past their day by 48 hours.
    pub salts: u64,
}

#[derive(Debug, clickhouse::Row, Serialize, Deserialize)]
struct Applied {
    version: u32,
    name: String,
    checksum: String,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct TableTtl {
    name: String,
    engine_full: String,
}

#[derive(Debug, Clone)]
pub struct Migrator {
    client: Client,
    target: Target,
    retention: Retention,
}

impl Migrator {
    /// `client` must not be bound to a database: every statement names it.
    pub fn new(client: Client, target: Target, retention: Retention) -> Self {
        Migrator {
            client,
            target,
            retention,
        }
    }

    /// Every statement [`Self::migrate`] would run on an empty database.
    pub fn plan(&self) -> Result<Vec<String>, MigrateError> {
        let mut statements = vec![self.create_database(), self.create_migrations_table()?];
        for migration in MIGRATIONS {
            statements.extend(render(migration.template, &self.target, self.retention)?);
        }
        Ok(statements)
    }

    /// Brings the database to the latest version and the TTLs to the retention.
    /// Running it again changes nothing.
    pub async fn migrate(&self) -> Result<Report, MigrateError> {
        let db = self.target.database();
        self.client.query(&self.create_database()).execute().await?;
        let tables: Vec<String> = self
            .client
            .query("SELECT name FROM system.tables WHERE database = ? ORDER BY name")
            .bind(db)
            .fetch_all()
            .await?;
        if !tables.iter().any(|t| t == MIGRATIONS_TABLE) {
            if !tables.is_empty() {
                return Err(MigrateError::Unrecognised {
                    database: db.to_owned(),
                    tables: tables.join(", "),
                });
            }
            self.client
                .query(&self.create_migrations_table()?)
                .execute()
                .await?;
        }
        let applied = self.applied().await?;
        let mut report = Report::default();
        for migration in MIGRATIONS {
            if applied.contains(&migration.version) {
                continue;
            }
            self.apply(migration).await?;
            report.applied.push(migration.version);
        }
        report.retention_changed = self.apply_retention().await?;
        Ok(report)
    }

    /// The applied versions, checked against the ones this build knows.
    pub async fn applied(&self) -> Result<Vec<u32>, MigrateError> {
        Ok(self
            .applied_rows()
            .await?
            .iter()
            .map(|a| a.version)
            .collect())
    }

    async fn applied_rows(&self) -> Result<Vec<Applied>, MigrateError> {
        let db = self.target.database();
        let applied: Vec<Applied> = self
            .client
            .query(&format!(
                "SELECT version, name, checksum FROM {db}.{MIGRATIONS_TABLE} ORDER BY version"
            ))
            .fetch_all()
            .await?;
        for row in &applied {
            let Some(known) = MIGRATIONS.iter().find(|m| m.version == row.version) else {
                return Err(MigrateError::Newer {
                    database: db.to_owned(),
                    found: row.version,
                    known: latest_version(),
                });
            };
            if known.checksum() != row.checksum {
                return Err(MigrateError::Changed {
                    database: db.to_owned(),
                    version: row.version,
                    name: row.name.clone(),
                });
            }
        }
        Ok(applied)
    }

    async fn apply(&self, migration: &Migration) -> Result<(), MigrateError> {
        for statement in render(migration.template, &self.target, self.retention)? {
            self.client.query(&statement).execute().await?;
        }
        let mut insert = self
            .client
            .clone()
            .with_database(self.target.database())
            .insert::<Applied>(MIGRATIONS_TABLE)
            .await?;
        insert
            .write(&Applied {
                version: migration.version,
                name: migration.name.to_owned(),
                checksum: migration.checksum(),
            })
            .await?;
        insert.end().await?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "migration applied"
        );
        Ok(())
    }

    /// Rewrites every month-based TTL that differs from the retention.
    async fn apply_retention(&self) -> Result<Vec<String>, MigrateError> {
        let mut changed = Vec::new();
        for table in self.ttl_tables().await? {
            let Some((ttl, months)) = month_ttl(&table.engine_full) else {
                continue;
            };
            let wanted = self.retention.as_months();
            if months == wanted {
                continue;
            }
            let ttl = ttl.replace(
                &format!("toIntervalMonth({months})"),
                &format!("toIntervalMonth({wanted})"),
            );
            self.client
                .query(&format!(
                    "ALTER TABLE {}.{}{} MODIFY TTL {ttl}",
                    self.target.database(),
                    table.name,
                    self.target.on_cluster()
                ))
                .execute()
                .await?;
            tracing::info!(table = %table.name, from = months, to = wanted, "retention changed");
            changed.push(table.name);
        }
        Ok(changed)
    }

    async fn ttl_tables(&self) -> Result<Vec<TableTtl>, MigrateError> {
        Ok(self
            .client
            .query(
                "SELECT name, engine_full FROM system.tables \
                 WHERE database = ? AND engine LIKE '%MergeTree' AND position(engine_full, ' TTL ') > 0 \
                 ORDER BY name",
            )
            .bind(self.target.database())
            .fetch_all()
            .await?)
    }

    /// Deletes what is past the retention now instead of waiting for TTL
    /// merges: monthly partitions wholly past it are dropped, and the
    /// partition that straddles the limit has its TTL materialised.
    pub async fn expire(&self) -> Result<Expiry, MigrateError> {
        let db = self.target.database();
        let now: u32 = self
            .client
            .query("SELECT toYYYYMM(now('UTC'))")
            .fetch_one()
            .await?;
        let mut expiry = Expiry::default();
        for table in self.ttl_tables().await? {
            let Some((_, months)) = month_ttl(&table.engine_full) else {
                continue;
            };
            let partitions: Vec<String> = self
                .client
                .query(
                    "SELECT DISTINCT partition_id FROM system.parts \
                     WHERE database = ? AND table = ? AND active ORDER BY partition_id",
                )
                .bind(db)
                .bind(&table.name)
                .fetch_all()
                .await?;
            for partition in partitions {
                let Some(month) = partition.parse::<u32>().ok().and_then(month_index) else {
                    continue; // not a toYYYYMM partition
                };
                let Some(current) = month_index(now) else {
                    continue;
                };
                let (action, list) = if month + months < current {
                    ("DROP PARTITION ID", &mut expiry.dropped)
                } else if month + months == current {
                    ("MATERIALIZE TTL IN PARTITION ID", &mut expiry.materialized)
                } else {
                    continue;
                };
                self.client
                    .query(&format!(
                        "ALTER TABLE {db}.{}{} {action} '{partition}'",
                        table.name,
                        self.target.on_cluster()
                    ))
                    .with_setting("mutations_sync", "2")
                    .execute()
                    .await?;
                list.push(format!("{}/{partition}", table.name));
            }
        }
        expiry.salts = self.expire_salts().await?;
        Ok(expiry)
    }

    /// Deletes the salts whose TTL has passed (48 hours after their day
    /// began), whether or not a merge has run.
    async fn expire_salts(&self) -> Result<u64, MigrateError> {
        let db = self.target.database();
        let past = "toDateTime(day, 'UTC') + toIntervalDay(2) <= now('UTC')";
        let count: u64 = self
            .client
            .query(&format!("SELECT count() FROM {db}.salts WHERE {past}"))
            .fetch_one()
            .await?;
        if count > 0 {
            self.client
                .query(&format!(
                    "ALTER TABLE {db}.salts{} DELETE WHERE {past}",
                    self.target.on_cluster()
                ))
                .with_setting("mutations_sync", "2")
                .execute()
                .await?;
        }
        Ok(count)
    }

    fn create_database(&self) -> String {
        format!(
            "CREATE DATABASE IF NOT EXISTS {}{}",
            self.target.database(),
            self.target.on_cluster()
        )
    }

    fn create_migrations_table(&self) -> Result<String, MigrateError> {
        let template = format!(
            "CREATE TABLE IF NOT EXISTS ${{db}}.{MIGRATIONS_TABLE} ${{on_cluster}} \
             (version UInt32, name String, checksum String, \
              applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) \
             ENGINE = ${{global_engine:MergeTree}} ORDER BY version"
        );
        let mut statements = render(&template, &self.target, self.retention)?;
        Ok(statements.pop().unwrap_or_default())
    }
}

/// The TTL clause of a table and its month count, when it is month-based.
fn month_ttl(engine_full: &str) -> Option<(String, u32)> {
    let start = engine_full.find(" TTL ")? + " TTL ".len();
    let ttl = engine_full[start..]
        .split(" SETTINGS ")
        .next()
        .unwrap_or_default()
        .trim();
    let months = ttl.split("toIntervalMonth(").nth(1)?.split(')').next()?;
    Some((ttl.to_owned(), months.parse().ok()?))
}

/// Months since year 0 of a `YYYYMM` number.
fn month_index(yyyymm: u32) -> Option<u32> {
    let (year, month) = (yyyymm / 100, yyyymm % 100);
    (1..=12).contains(&month).then(|| year * 12 + month - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_ttl_reads_the_ttl_clause() {
        let engine = "MergeTree PARTITION BY toYYYYMM(ts) ORDER BY (site_id, ts) \
                      TTL toDateTime(ts) + toIntervalMonth(6) SETTINGS index_granularity = 8192";
        assert_eq!(
            month_ttl(engine),
            Some(("toDateTime(ts) + toIntervalMonth(6)".to_owned(), 6))
        );
        let salts = "MergeTree ORDER BY day TTL toDateTime(day) + toIntervalDay(2)";
        assert_eq!(month_ttl(salts), None);
        assert_eq!(month_ttl("MergeTree ORDER BY a"), None);
    }

    #[test]
    fn month_index_counts_months() {
        assert_eq!(
            month_index(202601)
                .zip(month_index(202512))
                .map(|(a, b)| a - b),
            Some(1)
        );
        assert_eq!(month_index(202613), None);
        assert_eq!(month_index(202600), None);
    }
}
