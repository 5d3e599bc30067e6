//! From accepted rows to ClickHouse: a bounded queue, a batcher that flushes
//! on rows, bytes or time, and inserts that retry what may succeed later and
//! never retry what means the data is wrong.

use crate::event::DropReason;
use crate::metrics::Metrics;
use crate::row::{EVENTS_TABLE, EventRow};
use clickhouse::Client;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Where accepted rows go.
pub trait Sink: Send + Sync + std::fmt::Debug {
    /// Takes a row, or refuses it when full.
    fn push(&self, row: EventRow) -> Result<(), DropReason>;
}

/// Rows kept in memory, for tests.
#[derive(Debug, Default)]
pub struct MemorySink(Mutex<Vec<EventRow>>);

impl MemorySink {
    pub fn take(&self) -> Vec<EventRow> {
        std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

impl Sink for MemorySink {
    fn push(&self, row: EventRow) -> Result<(), DropReason> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(row);
        Ok(())
    }
}

/// The bounded queue in front of the batcher.
#[derive(Debug)]
pub struct QueueSink {
    tx: mpsc::Sender<EventRow>,
    metrics: Metrics,
}

impl Sink for QueueSink {
    fn push(&self, row: EventRow) -> Result<(), DropReason> {
        self.tx.try_send(row).map_err(|_| DropReason::Overloaded)?;
        self.metrics.queue_rows.inc();
        Ok(())
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

/// The queue and its batcher, to be run with [`Batcher::run`].
pub fn queue(capacity: usize, metrics: Metrics) -> (QueueSink, mpsc::Receiver<EventRow>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (QueueSink { tx, metrics }, rx)
}

#[derive(Debug)]
pub struct Batcher {
    pub rx: mpsc::Receiver<EventRow>,
    /// Bound to the Mesure database.
    pub client: Client,
    pub limits: BatchLimits,
    pub metrics: Metrics,
    /// How long a batch is retried once shutdown has begun.
    pub shutdown_grace: Duration,
}

/// Whether a failed insert may succeed if tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// ClickHouse or the network: try again.
    Transient,
    /// The rows themselves are refused: trying again cannot help.
    Data,
}

/// ClickHouse codes that mean the data is wrong: parse errors (6, 26, 27,
/// 38, 41, 72), truncated rows (32, 33), type mismatches and conversions (53,
/// 69, 70), incorrect data (117), too large strings (131), arrays of unequal
/// sizes (190). Everything else, memory and parts limits included, may pass later.
const DATA_ERROR_CODES: &[u32] = &[6, 26, 27, 32, 33, 38, 41, 53, 69, 70, 72, 117, 131, 190];

/// Decides, in one place, what to retry.
pub fn classify(error: &clickhouse::error::Error) -> Failure {
    use clickhouse::error::Error;
    match error {
        Error::BadResponse(message) => {
            let code = message
                .strip_prefix("Code: ")
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|digits| digits.parse::<u32>().ok());
            match code {
                Some(code) if DATA_ERROR_CODES.contains(&code) => Failure::Data,
                _ => Failure::Transient,
            }
        }
        Error::SchemaMismatch(_) | Error::InvalidParams(_) | Error::Compression(_) => Failure::Data,
        _ => Failure::Transient,
    }
}

impl Batcher {
    /// Runs until the queue is closed, then flushes what is left and returns.
    pub async fn run(mut self) {
        let mut batch: Vec<EventRow> = Vec::new();
        let mut bytes = 0;
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            let received = match deadline {
                Some(at) => tokio::time::timeout_at(at, self.rx.recv()).await.ok(),
                None => Some(self.rx.recv().await),
            };
            match received {
                Some(Some(row)) => {
                    self.metrics.queue_rows.dec();
                    if batch.is_empty() {
                        deadline = Some(tokio::time::Instant::now() + self.limits.max_delay);
                    }
                    bytes += row.approximate_size();
                    batch.push(row);
                    if batch.len() < self.limits.max_rows && bytes < self.limits.max_bytes {
                        continue;
                    }
                }
                Some(None) => {
                    // Closed: the service is stopping.
                    if !batch.is_empty() {
                        self.flush(&mut batch, true).await;
                    }
                    return;
                }
                None => {} // the oldest row waited long enough
            }
            self.flush(&mut batch, false).await;
            bytes = 0;
            deadline = None;
        }
    }

    async fn flush(&self, batch: &mut Vec<EventRow>, stopping: bool) {
        let rows = std::mem::take(batch);
        let started = Instant::now();
        let token = batch_token();
        let mut attempt: u32 = 0;
        loop {
            match self.insert(&rows, &token).await {
                Ok(()) => {
                    self.metrics
                        .insert_duration
                        .observe(started.elapsed().as_secs_f64());
                    self.metrics.batch_rows.observe(rows.len() as f64);
                    let size: usize = rows.iter().map(EventRow::approximate_size).sum();
                    self.metrics.batch_bytes.observe(size as f64);
                    self.metrics.rows_inserted.inc_by(rows.len() as u64);
                    return;
                }
                Err(error) => match classify(&error) {
                    Failure::Data => {
                        self.metrics
                            .insert_errors
                            .with_label_values(&["data"])
                            .inc();
                        tracing::error!(%error, rows = rows.len(), "batch refused by clickhouse, not retried");
                        return;
                    }
                    Failure::Transient => {
                        self.metrics
                            .insert_errors
                            .with_label_values(&["transient"])
                            .inc();
                        if stopping && started.elapsed() > self.shutdown_grace {
                            tracing::error!(%error, rows = rows.len(), "clickhouse unreachable at shutdown, batch lost");
                            return;
                        }
                        let delay = backoff(attempt);
                        tracing::warn!(%error, rows = rows.len(), retry_in_ms = delay.as_millis() as u64, "insert failed, retrying");
                        tokio::time::sleep(delay).await;
                        attempt = attempt.saturating_add(1);
                    }
                },
            }
        }
    }

    /// One attempt. The token makes a retried batch that did land once
    /// land only once (ClickHouse insert deduplication).
    async fn insert(&self, rows: &[EventRow], token: &str) -> Result<(), clickhouse::error::Error> {
        let mut insert = self
            .client
            .insert::<EventRow>(EVENTS_TABLE)
            .await?
            .with_setting("insert_deduplication_token", token)
            // The sessions and hourly rollups fed by views are deduplicated too.
            .with_setting("deduplicate_blocks_in_dependent_materialized_views", "1");
        for row in rows {
            insert.write(row).await?;
        }
        insert.end().await
    }
}

/// Exponential from 100 ms to 10 s, with full jitter.
fn backoff(attempt: u32) -> Duration {
    let ceiling = 100u64.saturating_mul(1 << attempt.min(7)).min(10_000);
    let mut random = [0u8; 8];
    let jitter = match getrandom::fill(&mut random) {
        Ok(()) => u64::from_le_bytes(random) % ceiling.max(1),
        Err(_) => ceiling / 2,
    };
    Duration::from_millis(ceiling / 2 + jitter / 2)
}

fn batch_token() -> String {
    let mut bytes = [0u8; 16];
    // Without randomness the token is the time: still unique per batch.
    if getrandom::fill(&mut bytes).is_err() {
        bytes = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
            .to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clickhouse::error::Error;

    #[test]
    fn what_is_retried() {
        let check =
            |error: Error, expected: Failure| assert_eq!(classify(&error), expected, "{error}");
        check(
            Error::BadResponse("Code: 27. DB::Exception: Cannot parse input".into()),
            Failure::Data,
        );
        check(
            Error::BadResponse("Code: 53. DB::Exception: Type mismatch".into()),
            Failure::Data,
        );
        check(
            Error::BadResponse("Code: 117. DB::Exception: Incorrect data".into()),
            Failure::Data,
        );
        check(
            Error::BadResponse("Code: 241. DB::Exception: Memory limit".into()),
            Failure::Transient,
        );
        check(
            Error::BadResponse("Code: 60. DB::Exception: Unknown table".into()),
            Failure::Transient,
        );
        check(
            Error::BadResponse("Code: 252. DB::Exception: Too many parts".into()),
            Failure::Transient,
        );
        check(
            Error::BadResponse("503 Service Unavailable".into()),
            Failure::Transient,
        );
        check(Error::TimedOut, Failure::Transient);
        check(Error::SchemaMismatch("column".into()), Failure::Data);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 0..20 {
            let delay = backoff(attempt).as_millis();
            let ceiling = (100u128 << attempt.min(7)).min(10_000);
            assert!(
                delay >= ceiling / 2 && delay <= ceiling,
                "{attempt}: {delay}"
            );
        }
    }
}
