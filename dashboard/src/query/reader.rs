//! Where queries read: ClickHouse, and in memory what it already answered
//! that cannot change.
//!
//! A sealed day's figures at a version are written once and never altered,
//! so a statement over sealed days at the versions it names always returns
//! the same rows: they are kept, within a memory budget and for an hour at
//! most (data past the retention or erased is not shown for longer). Which
//! days are sealed, and at which version, changes as days are sealed: that
//! list is kept a few seconds, and forgotten as soon as this process seals.
//! Either way an answer is one ClickHouse gave for the same sealed versions.

use super::Query;
use super::period::Period;
use super::rollup::{self, Sealed};
use super::sql::Sql;
use crate::seal;
use clickhouse::Client;
use prometheus::IntCounterVec;
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

type Rows = Vec<Map<String, Value>>;

/// How long a statement's rows over sealed days are kept.
const ROWS_LIFETIME: Duration = Duration::from_secs(3600);
/// How long the list of a site's sealed days is kept.
const LIST_LIFETIME: Duration = Duration::from_secs(10);

#[derive(Debug)]
struct Kept<T> {
    at: Instant,
    /// Approximate bytes held.
    bytes: u64,
    value: T,
}

impl<T> Kept<T> {
    fn fresh(&self, lifetime: Duration) -> bool {
        self.at.elapsed() < lifetime
    }
}

#[derive(Debug, Clone, Copy)]
struct Bytes;

impl<K, T> Weighter<K, Arc<Kept<T>>> for Bytes {
    fn weight(&self, _: &K, kept: &Arc<Kept<T>>) -> u64 {
        kept.bytes.max(1)
    }
}

type Memory<K, T> = Arc<Cache<K, Arc<Kept<T>>, Bytes>>;

/// The site, its sealing basis and the first and last UTC days asked.
type ListKey = (String, String, chrono::NaiveDate, chrono::NaiveDate);

/// The ClickHouse client and what is kept in memory; cheap to clone (the
/// clones share what is kept).
#[derive(Clone)]
pub struct Reader {
    pub client: Client,
    rows: Option<Memory<String, Arc<Rows>>>,
    lists: Memory<ListKey, Sealed>,
    /// Counted by `result`: `kept` or `read`.
    answers: Option<IntCounterVec>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").finish_non_exhaustive()
    }
}

impl Reader {
    /// Keeps up to `budget_bytes` of sealed days' rows (none when 0).
    pub fn new(client: Client, budget_bytes: u64) -> Reader {
        let rows = (budget_bytes > 0).then(|| {
            // Rows of a breakdown page weigh tens of kilobytes.
            let items = usize::try_from(budget_bytes / 16_384).unwrap_or(usize::MAX);
            Arc::new(Cache::with_weighter(items.max(16), budget_bytes, Bytes))
        });
        Reader {
            client,
            rows,
            lists: Arc::new(Cache::with_weighter(1024, 16 << 20, Bytes)),
            answers: None,
        }
    }

    /// Counts statements over sealed days in `answers`, by `result`.
    pub fn counted(self, answers: IntCounterVec) -> Reader {
        Reader {
            answers: Some(answers),
            ..self
        }
    }

    fn count(&self, result: &str) {
        if let Some(answers) = &self.answers {
            answers.with_label_values(&[result]).inc();
        }
    }

    /// The rows of a statement over sealed days at the versions it names.
    pub async fn sealed_rows(&self, sql: &Sql) -> Result<Arc<Rows>, clickhouse::error::Error> {
        let Some(cache) = &self.rows else {
            self.count("read");
            return Ok(Arc::new(sql.rows(&self.client).await?));
        };
        let key = format!("{}\u{0}{:?}", sql.text, sql.params);
        if let Some(kept) = cache.get(&key).filter(|k| k.fresh(ROWS_LIFETIME)) {
            self.count("kept");
            return Ok(Arc::clone(&kept.value));
        }
        self.count("read");
        let rows = Arc::new(sql.rows(&self.client).await?);
        let bytes = rows
            .iter()
            .flat_map(|row| row.iter())
            .map(|(k, v)| k.len() + v.as_str().map_or(8, str::len) + 64)
            .sum::<usize>()
            + key.len();
        cache.insert(
            key,
            Arc::new(Kept {
                at: Instant::now(),
                bytes: u64::try_from(bytes).unwrap_or(u64::MAX),
                value: Arc::clone(&rows),
            }),
        );
        Ok(rows)
    }

    /// The days of `periods` sealed for the query's site, as
    /// [`Sealed::of`] finds them, kept a few seconds; none for a query the
    /// rollups cannot answer.
    pub async fn sealed(
        &self,
        query: &Query,
        periods: &[&Period],
    ) -> Result<Sealed, clickhouse::error::Error> {
        if rollup::shape(query).is_none() || periods.is_empty() {
            return Ok(Sealed::default());
        }
        let first = periods.iter().map(|p| p.start_ms).min().unwrap_or(0);
        let last = periods.iter().map(|p| p.end_ms - 1).max().unwrap_or(0);
        let days = (seal::utc_day(first), seal::utc_day(last));
        let key = (
            query.site.id.to_string(),
            seal::basis(&query.site, &query.goals),
            days.0,
            days.1,
        );
        if let Some(kept) = self.lists.get(&key).filter(|k| k.fresh(LIST_LIFETIME)) {
            return Ok(kept.value.clone());
        }
        let sealed = Sealed::of(&self.client, query, days).await?;
        let bytes = 64 * (sealed.days.len() + 1);
        self.lists.insert(
            key,
            Arc::new(Kept {
                at: Instant::now(),
                bytes: u64::try_from(bytes).unwrap_or(u64::MAX),
                value: sealed.clone(),
            }),
        );
        Ok(sealed)
    }

    /// Forgets which days are sealed: this process just sealed some.
    pub fn forget_sealed_days(&self) {
        self.lists.clear();
    }
}
