//! Daily salts shared by every collector replica through the `salts` table.
//!
//! Each replica, every minute: makes sure today's and tomorrow's salts exist
//! (creating a random one when missing), adopts the oldest salt recorded for
//! each day, so that replicas racing to create one converge on the same, and
//! destroys the salts of past days. Tomorrow's salt exists a day before it is
//! used, so replicas agree on it long before midnight. A past salt is deleted
//! as soon as its day is over (`ALTER TABLE ... DELETE`, which rewrites the
//! parts), and the table's 48-hour TTL is the backstop.

use crate::pipeline::visitor::{Salt, SaltSource, utc_day};
use arc_swap::ArcSwap;
use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DaySalt {
    day: i64,
    salt: Salt,
    created_ms: i64,
}

/// The salts this replica uses now.
#[derive(Debug, Default)]
pub struct SharedSalts {
    days: ArcSwap<Vec<DaySalt>>,
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
    /// Age of today's salt in seconds, or `None` when there is none.
    pub fn age_seconds(&self, now_ms: i64) -> Option<i64> {
        let today = utc_day(now_ms);
        self.days
            .load()
            .iter()
            .find(|d| d.day == today)
            .map(|d| (now_ms - d.created_ms) / 1000)
    }

    /// One round: ensure, adopt, destroy.
    /// `client` is bound to the Mesure database.
    pub async fn refresh(
        &self,
        client: &Client,
        now_ms: i64,
    ) -> Result<(), clickhouse::error::Error> {
        let today = utc_day(now_ms);
        let mut days = Vec::with_capacity(2);
        for day in [today, today + 1] {
            days.push(ensure(client, day, now_ms).await?);
        }
        self.days.store(Arc::new(days));
        destroy_before(client, today).await
    }
}

fn date(day: i64) -> u16 {
    u16::try_from(day).unwrap_or(u16::MAX)
}

async fn oldest(client: &Client, day: i64) -> Result<Option<SaltRow>, clickhouse::error::Error> {
    client
        .query(
            "SELECT ?fields FROM salts WHERE day = addDays(toDate('1970-01-01'), ?) \
             ORDER BY created_at, salt LIMIT 1",
        )
        .bind(date(day))
        .fetch_optional()
        .await
}

async fn ensure(
    client: &Client,
    day: i64,
    now_ms: i64,
) -> Result<DaySalt, clickhouse::error::Error> {
    let row = match oldest(client, day).await? {
        Some(row) => row,
        None => {
            let mut salt = [0u8; 16];
            getrandom::fill(&mut salt)
                .map_err(|e| clickhouse::error::Error::Custom(e.to_string()))?;
            let mut insert = client.insert::<SaltRow>("salts").await?;
            insert
                .write(&SaltRow {
                    day: date(day),
                    salt,
                    created_at: now_ms,
                })
                .await?;
            insert.end().await?;
            tracing::info!(day, "daily salt created");
            // Another replica may have created one first: the oldest wins.
            oldest(client, day).await?.ok_or_else(|| {
                clickhouse::error::Error::Custom("salt vanished after insert".into())
            })?
        }
    };
    Ok(DaySalt {
        day,
        salt: row.salt,
        created_ms: row.created_at,
    })
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
