//! From accepted rows to ClickHouse: the sink the HTTP side hands rows to,
//! the destination the spool ships to, batch limits, timeouts, and the one
//! place that decides what to retry (the spool does the rest).

use crate::event::DropReason;
use crate::metrics::Metrics;
use crate::row::{COLUMNS, EVENTS_TABLE, EventRow};
use bytes::Bytes;
use clickhouse::Client;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

/// The rows of one request, taken or refused together: one hit, or every
/// hit of a Matomo bulk request.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "one row a hit is the hot path: boxing it would allocate for every hit"
)]
pub enum Rows {
    One(EventRow),
    Many(Vec<EventRow>),
}

impl Rows {
    pub fn len(&self) -> usize {
        match self {
            Rows::One(_) => 1,
            Rows::Many(rows) => rows.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> std::slice::Iter<'_, EventRow> {
        match self {
            Rows::One(row) => std::slice::from_ref(row).iter(),
            Rows::Many(rows) => rows.iter(),
        }
    }
}

/// Where accepted rows go.
///
/// A sink counts what becomes of the rows it is handed: each row once in
/// `mesure_hits_accepted_total` or once in `mesure_hits_dropped_total`, at
/// the moment it is decided, so that a client who disconnects (and cancels
/// its request's handler) cannot leave a stored row uncounted.
pub trait Sink: Send + Sync + std::fmt::Debug {
    /// Takes the rows, all or none; the hits are accepted once the outcome is `Ok`.
    fn push(&self, rows: Rows) -> Pending;
}

/// The outcome of [`Sink::push`], now or once the rows are durable.
pub enum Pending {
    Done(Result<(), DropReason>),
    /// Decided later. Dropping it unpolled must not strand rows the sink
    /// took (the spool then writes them in `Drop`).
    Later(Pin<Box<dyn Future<Output = Result<(), DropReason>> + Send>>),
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pending::Done(outcome) => f.debug_tuple("Done").field(outcome).finish(),
            Pending::Later(_) => f.write_str("Later"),
        }
    }
}

impl Pending {
    pub async fn outcome(self) -> Result<(), DropReason> {
        match self {
            Pending::Done(outcome) => outcome,
            Pending::Later(later) => later.await,
        }
    }
}

/// Counts the outcome of `rows` rows handed to a sink.
pub fn count(metrics: &Metrics, rows: usize, outcome: Result<(), DropReason>) {
    let rows = rows as u64;
    match outcome {
        Ok(()) => metrics.hits_accepted.inc_by(rows),
        Err(reason) => metrics.dropped_rows(reason, rows),
    }
}

/// Rows kept in memory, for tests.
#[derive(Debug)]
pub struct MemorySink {
    rows: Mutex<Vec<EventRow>>,
    metrics: Metrics,
}

impl MemorySink {
    pub fn new(metrics: Metrics) -> MemorySink {
        MemorySink {
            rows: Mutex::default(),
            metrics,
        }
    }

    pub fn take(&self) -> Vec<EventRow> {
        std::mem::take(
            &mut *self
                .rows
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

impl Sink for MemorySink {
    fn push(&self, rows: Rows) -> Pending {
        count(&self.metrics, rows.len(), Ok(()));
        let mut kept = self
            .rows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match rows {
            Rows::One(row) => kept.push(row),
            Rows::Many(rows) => kept.extend(rows),
        }
        Pending::Done(Ok(()))
    }
}

/// When a batch is flushed.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub max_rows: usize,
    pub max_bytes: usize,
    pub max_delay: Duration,
}

impl Default for BatchLimits {
    /// ClickHouse wants 10k to 100k rows per insert, about one insert a second.
    fn default() -> Self {
        BatchLimits {
            max_rows: 50_000,
            max_bytes: 32 << 20,
            max_delay: Duration::from_secs(1),
        }
    }
}

pub use mesure_schema::Timeouts;

/// Runs a query (a fetch, a ping, a small insert) within the receive
/// timeout; a timeout is counted under `operation`.
pub async fn timed<T, E: From<clickhouse::error::Error>>(
    timeouts: &Timeouts,
    metrics: &Metrics,
    operation: &str,
    query: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    match tokio::time::timeout(timeouts.receive, query).await {
        Ok(outcome) => outcome,
        Err(_) => {
            metrics
                .clickhouse_timeouts
                .with_label_values(&[operation])
                .inc();
            Err(clickhouse::error::Error::TimedOut.into())
        }
    }
}

/// Where the spool ships its batches: ClickHouse's `events` table in the
/// product, an in-memory table in the spool's property tests.
pub trait Destination: Send + Sync + std::fmt::Debug + 'static {
    /// Inserts rows already encoded as `RowBinary` in [`COLUMNS`] order.
    /// The same `token` always comes with the same rows: a destination that
    /// already took it keeps the rows once.
    fn insert(
        &self,
        data: Bytes,
        token: String,
    ) -> impl Future<Output = Result<(), Failure>> + Send;
}

/// Why an insert failed, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// ClickHouse or the network, a timeout included: try again.
    #[error("{0}")]
    Transient(String),
    /// The rows themselves are refused: trying again cannot help.
    #[error("{0}")]
    Data(String),
}

/// ClickHouse's `events` table, through the product's client.
#[derive(Debug, Clone)]
pub struct ClickHouseEvents {
    /// Bound to the Mesure database.
    pub client: Client,
    pub timeouts: Timeouts,
    pub metrics: Metrics,
}

impl Destination for ClickHouseEvents {
    /// Sends a batch's `RowBinary` as it is, in chunks of about a megabyte
    /// (each compressed on its own).
    async fn insert(&self, data: Bytes, token: String) -> Result<(), Failure> {
        const CHUNK: usize = 1 << 20;
        let send = async {
            let mut insert = self
                .client
                .insert_formatted_with(format!(
                    "INSERT INTO {EVENTS_TABLE} ({COLUMNS}) FORMAT RowBinary"
                ))
                .with_setting("insert_deduplication_token", token)
                // The sessions and hourly rollups fed by views are deduplicated too.
                .with_setting("deduplicate_blocks_in_dependent_materialized_views", "1")
                .with_timeouts(Some(self.timeouts.send), Some(self.timeouts.receive));
            let mut from = 0;
            while from < data.len() {
                let to = (from + CHUNK).min(data.len());
                insert.send(data.slice(from..to)).await?;
                from = to;
            }
            insert.end().await
        };
        // The crate's timeouts bound each chunk and the answer; this one the
        // connection and anything else.
        let bound = self.timeouts.connect + self.timeouts.send + self.timeouts.receive;
        match tokio::time::timeout(bound, send)
            .await
            .unwrap_or(Err(clickhouse::error::Error::TimedOut))
        {
            Ok(()) => Ok(()),
            Err(error) => {
                if matches!(error, clickhouse::error::Error::TimedOut) {
                    self.metrics
                        .clickhouse_timeouts
                        .with_label_values(&["insert"])
                        .inc();
                }
                Err(classify(&error))
            }
        }
    }
}

/// ClickHouse codes that mean the data is wrong: parse errors (6, 26, 27,
/// 38, 41, 72), truncated rows (32, 33), type mismatches and conversions (53,
/// 69, 70), incorrect data (117), too large strings (131), arrays of unequal
/// sizes (190), a violated table constraint (469). Everything else, memory
/// and parts limits included, may pass later.
const DATA_ERROR_CODES: &[u32] = &[
    6, 26, 27, 32, 33, 38, 41, 53, 69, 70, 72, 117, 131, 190, 469,
];

/// Decides, in one place, what to retry.
pub fn classify(error: &clickhouse::error::Error) -> Failure {
    use clickhouse::error::Error;
    let text = error.to_string();
    match error {
        Error::BadResponse(message) => {
            let code = message
                .strip_prefix("Code: ")
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|digits| digits.parse::<u32>().ok());
            match code {
                Some(code) if DATA_ERROR_CODES.contains(&code) => Failure::Data(text),
                _ => Failure::Transient(text),
            }
        }
        Error::SchemaMismatch(_) | Error::InvalidParams(_) | Error::Compression(_) => {
            Failure::Data(text)
        }
        _ => Failure::Transient(text),
    }
}

/// Waits between attempts: exponential from `first` to `max`, with jitter.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    /// From 100 ms to 10 s.
    fn default() -> Self {
        Backoff {
            first: Duration::from_millis(100),
            max: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// Between half the ceiling and the ceiling, the ceiling doubling each
    /// attempt up to `max`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let first = u64::try_from(self.first.as_micros()).unwrap_or(u64::MAX);
        let max = u64::try_from(self.max.as_micros()).unwrap_or(u64::MAX);
        let ceiling = first.saturating_mul(1 << attempt.min(16)).min(max).max(1);
        let mut random = [0u8; 8];
        let jitter = match getrandom::fill(&mut random) {
            Ok(()) => u64::from_le_bytes(random) % ceiling,
            Err(_) => ceiling / 2,
        };
        Duration::from_micros(ceiling / 2 + jitter / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clickhouse::error::Error;

    #[test]
    fn what_is_retried() {
        let check = |error: Error, data: bool| {
            assert_eq!(
                matches!(classify(&error), Failure::Data(_)),
                data,
                "{error}"
            );
        };
        check(
            Error::BadResponse("Code: 27. DB::Exception: Cannot parse input".into()),
            true,
        );
        check(
            Error::BadResponse("Code: 53. DB::Exception: Type mismatch".into()),
            true,
        );
        check(
            Error::BadResponse("Code: 117. DB::Exception: Incorrect data".into()),
            true,
        );
        check(
            Error::BadResponse("Code: 241. DB::Exception: Memory limit".into()),
            false,
        );
        check(
            Error::BadResponse("Code: 60. DB::Exception: Unknown table".into()),
            false,
        );
        check(
            Error::BadResponse("Code: 252. DB::Exception: Too many parts".into()),
            false,
        );
        check(Error::BadResponse("503 Service Unavailable".into()), false);
        check(Error::TimedOut, false);
        check(Error::SchemaMismatch("column".into()), true);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let backoff = Backoff::default();
        for attempt in 0..20 {
            let delay = backoff.delay(attempt).as_millis();
            let ceiling = (100u128 << attempt.min(16)).min(10_000);
            assert!(
                delay >= ceiling / 2 && delay <= ceiling,
                "{attempt}: {delay}"
            );
        }
    }

    #[test]
    fn a_sink_counts_each_row_once() {
        let metrics = Metrics::new();
        let sink = MemorySink::new(metrics.clone());
        let row = EventRow::pageview("site", 0, "/");
        let _ = sink.push(Rows::One(row.clone()));
        let _ = sink.push(Rows::Many(vec![row.clone(), row]));
        assert_eq!(metrics.hits_accepted.get(), 3);
        assert_eq!(sink.take().len(), 3);
    }
}
