//! The spool: every accepted row is written to a log on local disk before the
//! hit is acknowledged, and shipped from there to ClickHouse. A ClickHouse
//! outage, a slow insert or a collector crash loses nothing accepted; the
//! log is bounded, and when it is full hits are shed, not buffered in memory.
//!
//! Durability by `fsync` policy (a hit is acknowledged once its group of
//! rows is written to the log, in every mode, so a crash or `SIGKILL` of the
//! collector loses nothing acknowledged; the policy decides what a power cut
//! or a kernel crash can lose):
//!
//! | policy | written to disk | a power cut loses |
//! | --- | --- | --- |
//! | `always` | before each acknowledgement | nothing acknowledged |
//! | `interval` (default) | every `fsync_interval_ms` while something was written, by a timed thread of its own: no hit waits for it, and the end of a burst is synced too | the last interval (1 s by default) |
//! | `never` | when the kernel flushes | up to the kernel's writeback delay (about 30 s on Linux) |
//!
//! What the spool knows of itself, and how a start reconciles it, is in
//! [`state`]; the whole contract (never lose an acknowledged row, never
//! store one twice) is checked by the property test `tests/spool_model.rs`.

pub mod log;
mod shipper;
pub mod state;
mod writer;

pub use log::Position;
pub use shipper::{QUARANTINE_DIR, Shipper};
pub use state::{State, StateFile};
pub use writer::SpoolSink;

use crate::delivery::{Backoff, BatchLimits, Destination};
use crate::metrics::Metrics;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fsync {
    Always,
    Interval,
    Never,
}

/// `[spool]`, as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolConfig {
    /// Directory of the log; one collector per directory.
    pub dir: PathBuf,
    /// Largest size of the log on disk; beyond, hits are shed.
    pub max_bytes: u64,
    /// Size at which a new segment file is started.
    pub segment_bytes: u64,
    /// When written rows are forced to disk: always, interval or never.
    pub fsync: Fsync,
    /// With `fsync = "interval"`: how often.
    pub fsync_interval_ms: u64,
    /// Rows waiting for the log writer at most; beyond, hits are shed.
    pub writer_queue: usize,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            dir: PathBuf::from("spool"),
            max_bytes: 1 << 30,
            segment_bytes: 64 << 20,
            fsync: Fsync::Interval,
            fsync_interval_ms: 1000,
            writer_queue: 65_536,
        }
    }
}

impl SpoolConfig {
    pub fn validate(&self) -> Result<(), crate::config::ConfigError> {
        use crate::config::ConfigError::TooSmall;
        for (key, value, min) in [
            ("spool.segment_bytes", self.segment_bytes, 64 * 1024),
            (
                "spool.max_bytes",
                self.max_bytes,
                self.segment_bytes.max(64 * 1024),
            ),
            ("spool.fsync_interval_ms", self.fsync_interval_ms, 1),
            ("spool.writer_queue", self.writer_queue as u64, 1),
        ] {
            if value < min {
                return Err(TooSmall { key, min });
            }
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {dir}: {error}")]
    Io { dir: PathBuf, error: std::io::Error },
    #[error("spool {0} is used by another collector")]
    Locked(PathBuf),
}

/// An open spool: the sink for the HTTP side, the shipper for the ClickHouse side.
#[derive(Debug)]
pub struct Spool<D> {
    pub sink: SpoolSink,
    pub writer: std::thread::JoinHandle<()>,
    pub shipper: Shipper<D>,
    /// Held while the spool is open: one collector per directory.
    pub _lock: File,
}

impl<D: Destination> Spool<D> {
    pub fn open(
        config: &SpoolConfig,
        destination: D,
        limits: BatchLimits,
        metrics: Metrics,
        shutdown_grace: Duration,
    ) -> Result<Spool<D>, SpoolError> {
        let dir = config.dir.clone();
        let io = |error| SpoolError::Io {
            dir: dir.clone(),
            error,
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let lock = File::create(dir.join("lock")).map_err(io)?;
        if lock.try_lock().is_err() {
            return Err(SpoolError::Locked(dir));
        }
        let reconciled = state::reconcile(&dir).map_err(io)?;
        let segments: u64 = reconciled
            .segments
            .iter()
            .filter_map(|s| std::fs::metadata(log::segment_path(&dir, *s)).ok())
            .map(|m| m.len())
            .sum();
        // Quarantined rows take room on the same disk: they count.
        let size = segments + shipper::quarantine_size(&dir.join(QUARANTINE_DIR));
        metrics
            .spool_bytes
            .set(i64::try_from(size).unwrap_or(i64::MAX));
        let size = Arc::new(AtomicU64::new(size));
        // Never append to a segment written before: a torn tail stays a tail.
        let first = reconciled.first_segment;
        let (committed_tx, committed) = watch::channel(Position {
            segment: first,
            offset: 0,
        });
        let (sink, writer) = writer::start(
            &dir,
            config,
            metrics.clone(),
            Arc::clone(&size),
            committed_tx,
            first,
        )
        .map_err(io)?;
        let shipper = Shipper {
            dir: dir.clone(),
            destination,
            limits,
            backoff: Backoff::default(),
            metrics,
            size,
            committed,
            state: reconciled.state,
            state_file: Arc::new(std::sync::Mutex::new(reconciled.file)),
            shutdown_grace,
            grace_until: std::sync::OnceLock::new(),
        };
        Ok(Spool {
            sink,
            writer,
            shipper,
            _lock: lock,
        })
    }
}
