//! Daily salts shared by every collector replica through the `salts` table.
//!
//! Each replica, every minute: forgets the salts of past days (in memory and
//! on local disk, whether or not ClickHouse answers), makes sure today's and
//! the next `salt_days_ahead` days' salts exist (creating a random one when
//! missing), adopts the oldest salt recorded for each day, so that replicas
//! racing to create one converge on the same, and destroys the salts of past
//! days in ClickHouse (`ALTER TABLE ... DELETE`, which rewrites the parts;
//! the table's 48-hour TTL is the backstop).
//!
//! Salts exist days before they are used, so that hits keep flowing through
//! a ClickHouse outage of that many days, and so that replicas agree on a
//! day's salt long before it starts. The salts in use are also kept in the
//! spool's directory (`salts.json`), so a collector restarted during an
//! outage still has them. Neither weakens the invariant that matters: a
//! salt is never kept after its day is over, so nobody can link two days.

use crate::pipeline::visitor::{Salt, SaltSource, utc_day};
use arc_swap::ArcSwap;
use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The local copy of the salts in use, in the spool's directory.
pub const SALTS_FILE: &str = "salts.json";
/// Days after today whose salt exists in advance, by default: a ClickHouse
/// outage over a weekend does not stop the hits.
pub const DEFAULT_DAYS_AHEAD: u32 = 3;
/// At most: each salt made in advance is one more a thief of the table
/// could use to link days still to come.
pub const MAX_DAYS_AHEAD: u32 = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct DaySalt {
    day: i64,
    #[serde(with = "hex::serde")]
    salt: Salt,
    created_ms: i64,
}

/// The salts this replica uses now.
#[derive(Debug)]
pub struct SharedSalts {
    days: ArcSwap<Vec<DaySalt>>,
    /// Days after today that get a salt in advance.
    ahead: i64,
    /// Where the local copy is kept, if anywhere.
    dir: Option<PathBuf>,
}

impl Default for SharedSalts {
    fn default() -> Self {
        SharedSalts::new(DEFAULT_DAYS_AHEAD, None)
    }
}

impl SaltSource for SharedSalts {
    fn salt(&self, day: i64) -> Option<Salt> {
        self.days
            .load()
            .iter()
            .find(|d| d.day == day)
            .map(|d| d.salt)
    }
}

/// A fixed salt for every day, for tests and replays.
#[derive(Debug, Clone, Copy)]
pub struct FixedSalt(pub Salt);

impl SaltSource for FixedSalt {
    fn salt(&self, _day: i64) -> Option<Salt> {
        Some(self.0)
    }
}

#[derive(Debug, Row, Serialize, Deserialize)]
struct SaltRow {
    /// `Date`: days since the epoch.
    day: u16,
    salt: Salt,
    created_at: i64,
}

impl SharedSalts {
    /// `ahead` days after today get their salt in advance; `dir` keeps the
    /// local copy.
    pub fn new(ahead: u32, dir: Option<PathBuf>) -> SharedSalts {
        SharedSalts {
            days: ArcSwap::default(),
            ahead: i64::from(ahead),
            dir,
        }
    }

    /// Age of today's salt in seconds, or `None` when there is none.
    pub fn age_seconds(&self, now_ms: i64) -> Option<i64> {
        let today = utc_day(now_ms);
        self.days
            .load()
            .iter()
            .find(|d| d.day == today)
            .map(|d| (now_ms - d.created_ms) / 1000)
    }

    /// Days after today with a salt, without a gap: how long hits can still
    /// be taken if ClickHouse stays away.
    pub fn days_ahead(&self, now_ms: i64) -> i64 {
        let today = utc_day(now_ms);
        let days = self.days.load();
        (1..)
            .take_while(|n| days.iter().any(|d| d.day == today + n))
            .count() as i64
    }

    /// Starts from the local copy, without the salts of past days.
    pub async fn restore(&self, now_ms: i64) -> std::io::Result<usize> {
        let Some(dir) = self.dir.clone() else {
            return Ok(0);
        };
        let read = tokio::task::spawn_blocking(move || std::fs::read(dir.join(SALTS_FILE)))
            .await
            .unwrap_or_else(|join| Err(std::io::Error::other(join)));
        let bytes = match read {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(error) => return Err(error),
        };
        let days: Vec<DaySalt> = serde_json::from_slice(&bytes).map_err(std::io::Error::other)?;
        self.days.store(Arc::new(days));
        self.forget_before(utc_day(now_ms)).await;
        Ok(self.days.load().len())
    }

    /// One round: forget, ensure, adopt, destroy.
    /// `client` is bound to the Mesure database.
    pub async fn refresh(
        &self,
        client: &Client,
        now_ms: i64,
    ) -> Result<(), clickhouse::error::Error> {
        let today = utc_day(now_ms);
        // First, and whatever ClickHouse does: past salts go.
        self.forget_before(today).await;
        let last = today + self.ahead;
        let mut rows = oldest(client, today, last).await?;
        let missing: Vec<i64> = (today..=last)
            .filter(|day| !rows.iter().any(|r| i64::from(r.day) == *day))
            .collect();
        if !missing.is_empty() {
            let mut insert = client.insert::<SaltRow>("salts").await?;
            for day in &missing {
                let mut salt = [0u8; 16];
                getrandom::fill(&mut salt)
                    .map_err(|e| clickhouse::error::Error::Custom(e.to_string()))?;
                insert
                    .write(&SaltRow {
                        day: date(*day),
                        salt,
                        created_at: now_ms,
                    })
                    .await?;
            }
            insert.end().await?;
            tracing::info!(days = missing.len(), "daily salts created");
            // Another replica may have created some first: the oldest wins.
            rows = oldest(client, today, last).await?;
        }
        let days: Vec<DaySalt> = rows
            .iter()
            .map(|row| DaySalt {
                day: i64::from(row.day),
                salt: row.salt,
                created_ms: row.created_at,
            })
            .collect();
        if !(today..=last).all(|day| days.iter().any(|d| d.day == day)) {
            return Err(clickhouse::error::Error::Custom(
                "salts vanished after insert: is the collector's clock far behind ClickHouse's?"
                    .into(),
            ));
        }
        if **self.days.load() != days {
            self.days.store(Arc::new(days));
            self.save().await;
        }
        destroy_before(client, today).await
    }

    /// Forgets the salts of days before `today`, here and on disk.
    async fn forget_before(&self, today: i64) {
        let days = self.days.load();
        if days.iter().all(|d| d.day >= today) {
            return;
        }
        let kept: Vec<DaySalt> = days.iter().filter(|d| d.day >= today).copied().collect();
        self.days.store(Arc::new(kept));
        self.save().await;
        tracing::info!("past daily salts forgotten");
    }

    /// Writes the local copy, readable by the collector's user only.
    async fn save(&self) {
        let Some(dir) = self.dir.clone() else {
            return;
        };
        let days = self.days.load_full();
        let written = tokio::task::spawn_blocking(move || save(&dir, &days))
            .await
            .unwrap_or_else(|join| Err(std::io::Error::other(join)));
        if let Err(error) = written {
            tracing::error!(%error, "local copy of the salts not saved");
        }
    }
}

fn save(dir: &Path, days: &[DaySalt]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = dir.join(format!("{SALTS_FILE}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(&serde_json::to_vec(days).map_err(std::io::Error::other)?)?;
    file.sync_all()?;
    std::fs::rename(&tmp, dir.join(SALTS_FILE))
}

fn date(day: i64) -> u16 {
    u16::try_from(day).unwrap_or(u16::MAX)
}

/// The oldest salt recorded for each day from `first` to `last`.
async fn oldest(
    client: &Client,
    first: i64,
    last: i64,
) -> Result<Vec<SaltRow>, clickhouse::error::Error> {
    client
        .query(
            "SELECT ?fields FROM salts \
             WHERE day BETWEEN addDays(toDate('1970-01-01'), ?) AND addDays(toDate('1970-01-01'), ?) \
             ORDER BY day, created_at, salt LIMIT 1 BY day",
        )
        .bind(date(first))
        .bind(date(last))
        .fetch_all()
        .await
}

async fn destroy_before(client: &Client, today: i64) -> Result<(), clickhouse::error::Error> {
    let stale: u64 = client
        .query("SELECT count() FROM salts WHERE day < addDays(toDate('1970-01-01'), ?)")
        .bind(date(today))
        .fetch_one()
        .await?;
    if stale > 0 {
        client
            .query("ALTER TABLE salts DELETE WHERE day < addDays(toDate('1970-01-01'), ?)")
            .bind(date(today))
            .with_setting("mutations_sync", "2")
            .execute()
            .await?;
        tracing::info!(salts = stale, "past daily salts destroyed");
    }
    Ok(())
}
