//! From accepted rows to ClickHouse: the sink the HTTP side hands rows to,
//! batch limits, and the one place that decides what to retry (the spool
//! does the rest).

use crate::event::DropReason;
use crate::row::EventRow;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::oneshot;

/// Where accepted rows go.
pub trait Sink: Send + Sync + std::fmt::Debug {
    /// Takes a row; the hit is accepted once the outcome is `Ok`.
    fn push(&self, row: EventRow) -> Pending;
}

/// The outcome of [`Sink::push`], now or once the row is durable.
#[derive(Debug)]
pub enum Pending {
    Done(Result<(), DropReason>),
    Wait(oneshot::Receiver<Result<(), DropReason>>),
}

impl Pending {
    pub async fn outcome(self) -> Result<(), DropReason> {
        match self {
            Pending::Done(outcome) => outcome,
            // The writer is gone: the service is stopping.
            Pending::Wait(wait) => wait.await.unwrap_or(Err(DropReason::Overloaded)),
        }
    }
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
    fn push(&self, row: EventRow) -> Pending {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(row);
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
/// sizes (190), a violated table constraint (469). Everything else, memory
/// and parts limits included, may pass later.
const DATA_ERROR_CODES: &[u32] = &[
    6, 26, 27, 32, 33, 38, 41, 53, 69, 70, 72, 117, 131, 190, 469,
];

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

/// Exponential from 100 ms to 10 s, with full jitter.
pub fn backoff(attempt: u32) -> Duration {
    let ceiling = 100u64.saturating_mul(1 << attempt.min(7)).min(10_000);
    let mut random = [0u8; 8];
    let jitter = match getrandom::fill(&mut random) {
        Ok(()) => u64::from_le_bytes(random) % ceiling.max(1),
        Err(_) => ceiling / 2,
    };
    Duration::from_millis(ceiling / 2 + jitter / 2)
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
