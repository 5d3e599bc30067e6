//! Accounts: who may read which site. Users, their roles on sites and
//! organisations, and (in later migrations) sessions, API tokens, shared
//! links and invitations, in a transactional SQL store: SQLite (a file, the
//! embedded default) or PostgreSQL (for several dashboard replicas). One set
//! of migrations and one set of statements serves both, through sqlx's
//! runtime-chosen driver: every statement is written in the dialect both
//! accept, with `$N` parameters, and every value is bound.

pub mod invitations;
pub mod links;
pub mod password;
pub mod sessions;
pub mod tasks;
pub mod tokens;
pub mod users;

use sha2::{Digest, Sha256};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use users::{Access, Role, User};

/// The `[accounts]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountsConfig {
    /// `sqlite://PATH` (the file is created) or `postgres://USER:PASSWORD@HOST/DB`.
    pub url: String,
    /// A session unused this long ends.
    pub session_idle_minutes: u32,
    /// A session ends this long after its sign-in, used or not.
    pub session_max_hours: u32,
    /// Failed sign-ins allowed per account within `sign_in_window_minutes`.
    pub sign_in_failures_per_account: u32,
    /// Failed sign-ins allowed per client address (truncated) within the window.
    pub sign_in_failures_per_address: u32,
    pub sign_in_window_minutes: u32,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        AccountsConfig {
            url: "sqlite://accounts.sqlite".to_owned(),
            session_idle_minutes: 60,
            session_max_hours: 12,
            sign_in_failures_per_account: 5,
            sign_in_failures_per_address: 20,
            sign_in_window_minutes: 15,
        }
    }
}

/// A numbered migration, embedded in the binary.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migrations {
    ($($version:literal $name:literal),* $(,)?) => {
        &[$(Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../migrations/", $name, ".sql")),
        }),*]
    };
}

/// Every migration, in the order they apply. A migration never changes
/// once released: its checksum is recorded and a changed one is refused.
pub const MIGRATIONS: &[Migration] = migrations![
    1 "0001_users_and_roles",
    2 "0002_sessions",
    3 "0003_api_tokens",
    4 "0004_shared_links",
    5 "0005_invitations",
    6 "0006_task_runs",
];

impl Migration {
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.sql.as_bytes()))
    }

    /// Its statements, without comments.
    fn statements(&self) -> Vec<String> {
        let text: String = self
            .sql
            .lines()
            .filter(|line| !line.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        text.split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("accounts store: {0}")]
    Sql(#[from] sqlx::Error),
    #[error(
        "accounts store URL {0:?} is not supported: use sqlite://PATH or postgres://USER@HOST/DB"
    )]
    Url(String),
    #[error("accounts migration {0} changed since it was applied; migrations never change")]
    Changed(i64),
    #[error(
        "the accounts store is at version {0}, newer than this build knows ({1}); upgrade Mesure"
    )]
    Newer(i64, i64),
    #[error("no random bytes: {0}")]
    Random(String),
    #[error("cannot create the folder {0} of the accounts store: {1}")]
    Folder(String, std::io::Error),
}

/// Which engine holds the accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// The accounts store: a pool of connections to SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
}

impl Store {
    /// Connects to `url`: `sqlite://PATH` (created if missing) or
    /// `postgres://...`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        install_default_drivers();
        let (engine, url) = if let Some(path) = url.strip_prefix("sqlite://") {
            let file = std::path::Path::new(path.split('?').next().unwrap_or(path));
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::Folder(dir.display().to_string(), e))?;
            }
            let separator = if path.contains('?') { '&' } else { '?' };
            (Engine::Sqlite, format!("{url}{separator}mode=rwc"))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Engine::Postgres, url.to_owned())
        } else {
            return Err(StoreError::Url(url.to_owned()));
        };
        let pool = AnyPoolOptions::new()
            // SQLite takes one writer at a time; more connections only wait.
            .max_connections(if engine == Engine::Sqlite { 4 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            .connect(&url)
            .await?;
        if engine == Engine::Sqlite {
            // Readers go on while one writes; a writer waits for another.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        Ok(Store { pool, engine })
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Applies the migrations not yet applied, each in one transaction.
    /// Returns the versions applied.
    pub async fn migrate(&self) -> Result<Vec<i64>, StoreError> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS accounts_migrations (\
             version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, \
             applied_at BIGINT NOT NULL)",
        )
        .execute(&self.pool)
        .await?;
        let newest: Option<i64> = sqlx::query("SELECT MAX(version) FROM accounts_migrations")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        let known = MIGRATIONS.last().map_or(0, |m| m.version);
        if let Some(newest) = newest.filter(|n| *n > known) {
            return Err(StoreError::Newer(newest, known));
        }
        let mut applied = Vec::new();
        for migration in MIGRATIONS {
            let mut tx = self.pool.begin().await?;
            if self.engine == Engine::Postgres {
                // One replica migrates at a time; the others wait, then see it done.
                sqlx::query("LOCK TABLE accounts_migrations IN EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await?;
            }
            let done = sqlx::query("SELECT checksum FROM accounts_migrations WHERE version = $1")
                .bind(migration.version)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = done {
                let checksum: String = row.try_get(0)?;
                if checksum != migration.checksum() {
                    return Err(StoreError::Changed(migration.version));
                }
                continue;
            }
            for statement in migration.statements() {
                sqlx::query(&statement).execute(&mut *tx).await?;
            }
            sqlx::query(
                "INSERT INTO accounts_migrations (version, name, checksum, applied_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(migration.version)
            .bind(migration.name)
            .bind(migration.checksum())
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            applied.push(migration.version);
        }
        Ok(applied)
    }
}

/// Milliseconds since the epoch.
/// How long a token's or link's last use may be out of date: its use is
/// recorded (in the store and the audit log) once a minute at most.
pub const USED_GRANULARITY_MS: i64 = 60_000;

/// Whether a use after `last_used_at` is to be recorded.
pub fn use_due(last_used_at: Option<i64>, now_ms: i64) -> bool {
    last_used_at.is_none_or(|at| now_ms - at >= USED_GRANULARITY_MS)
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `bytes` random bytes as hex: ids and secrets.
pub fn random_hex(bytes: usize) -> Result<String, StoreError> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).map_err(|e| StoreError::Random(e.to_string()))?;
    Ok(hex::encode(buffer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_and_split_into_statements() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, index as i64 + 1);
            assert!(
                migration
                    .name
                    .starts_with(&format!("{:04}_", migration.version))
            );
            let statements = migration.statements();
            assert!(!statements.is_empty());
            assert!(
                statements.iter().all(|s| !s.contains("--")),
                "{statements:?}"
            );
        }
    }
}
