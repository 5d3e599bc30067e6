//! The spool writer: one thread appends accepted rows in groups, and a hit
//! is acknowledged only once its group is written (and synced, per policy).

use super::log::{self, Position};
use super::{Fsync, SpoolConfig};
use crate::delivery::{Pending, Sink};
use crate::event::DropReason;
use crate::metrics::Metrics;
use crate::row::EventRow;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

/// Rows taken into one write at most.
const MAX_GROUP: usize = 4096;
/// A segment is closed after this long even if not full, so that shipped
/// rows leave the disk soon on a quiet site too.
const SEGMENT_MAX_AGE: Duration = Duration::from_secs(3600);
/// How often a disk error is logged at most.
const ERROR_LOG_EVERY: Duration = Duration::from_secs(10);

struct Entry {
    row: EventRow,
    done: oneshot::Sender<Result<(), DropReason>>,
}

/// The collector's sink: hands rows to the writer thread.
#[derive(Debug, Clone)]
pub struct SpoolSink {
    tx: mpsc::Sender<Entry>,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Entry")
    }
}

impl SpoolSink {
    /// Rows waiting for the writer.
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }
}

impl Sink for SpoolSink {
    fn push(&self, row: EventRow) -> Pending {
        let (done, wait) = oneshot::channel();
        match self.tx.try_send(Entry { row, done }) {
            Ok(()) => Pending::Wait(wait),
            // The writer is behind: shed rather than grow memory.
            Err(_) => Pending::Done(Err(DropReason::Overloaded)),
        }
    }
}

struct Writer {
    dir: PathBuf,
    config: SpoolConfig,
    metrics: Metrics,
    size: Arc<AtomicU64>,
    committed: watch::Sender<Position>,
    segment: u64,
    offset: u64,
    file: Option<File>,
    opened: Instant,
    last_sync: Instant,
    last_error_log: Option<Instant>,
    /// With `fsync = "interval"`: where files go to be synced, so that no
    /// group of hits waits for a disk flush.
    syncer: Option<std::sync::mpsc::SyncSender<File>>,
}

/// Syncs the files it is handed, one after the other, on its own thread.
fn start_syncer() -> std::io::Result<std::sync::mpsc::SyncSender<File>> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<File>(4);
    std::thread::Builder::new()
        .name("spool-sync".into())
        .spawn(move || {
            for file in rx {
                if let Err(error) = file.sync_data() {
                    tracing::error!(%error, "cannot sync the spool");
                }
            }
        })?;
    Ok(tx)
}

/// Starts the writer thread. `size` counts the spool's bytes on disk;
/// `committed` follows the end of what is written.
pub(super) fn start(
    dir: &Path,
    config: &SpoolConfig,
    metrics: Metrics,
    size: Arc<AtomicU64>,
    committed: watch::Sender<Position>,
    first_segment: u64,
) -> std::io::Result<(SpoolSink, std::thread::JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel(config.writer_queue.max(1));
    let mut writer = Writer {
        dir: dir.to_path_buf(),
        config: config.clone(),
        metrics,
        size,
        committed,
        segment: first_segment,
        offset: 0,
        file: None,
        opened: Instant::now(),
        last_sync: Instant::now(),
        last_error_log: None,
        syncer: match config.fsync {
            Fsync::Interval => Some(start_syncer()?),
            Fsync::Always | Fsync::Never => None,
        },
    };
    let handle = std::thread::Builder::new()
        .name("spool-writer".into())
        .spawn(move || writer.run(rx))?;
    Ok((SpoolSink { tx }, handle))
}

impl Writer {
    fn run(&mut self, mut rx: mpsc::Receiver<Entry>) {
        let mut group = Vec::with_capacity(MAX_GROUP);
        let mut buf = Vec::with_capacity(1 << 20);
        while let Some(first) = rx.blocking_recv() {
            group.push(first);
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(entry) => group.push(entry),
                    Err(_) => break,
                }
            }
            buf.clear();
            for entry in &group {
                log::encode(&entry.row, &mut buf);
            }
            let outcome = self.append(&buf);
            for entry in group.drain(..) {
                let _ = entry.done.send(outcome);
            }
        }
        // The service is stopping: make what was written durable.
        if let Some(file) = &self.file {
            let _ = file.sync_all();
        }
    }

    fn append(&mut self, buf: &[u8]) -> Result<(), DropReason> {
        let size = self.size.load(Ordering::Relaxed);
        if size + buf.len() as u64 > self.config.max_bytes {
            return Err(DropReason::Overloaded);
        }
        match self.write(buf) {
            Ok(()) => {
                self.size.fetch_add(buf.len() as u64, Ordering::Relaxed);
                self.metrics
                    .spool_bytes
                    .set(i64::try_from(self.size.load(Ordering::Relaxed)).unwrap_or(i64::MAX));
                self.committed.send_replace(Position {
                    segment: self.segment,
                    offset: self.offset,
                });
                Ok(())
            }
            Err(error) => {
                self.metrics.spool_write_errors.inc();
                let now = Instant::now();
                if self
                    .last_error_log
                    .is_none_or(|at| now - at > ERROR_LOG_EVERY)
                {
                    self.last_error_log = Some(now);
                    tracing::error!(%error, dir = %self.dir.display(), "cannot write the spool: hits are shed until it can");
                }
                self.abandon();
                Err(DropReason::Overloaded)
            }
        }
    }

    fn write(&mut self, buf: &[u8]) -> std::io::Result<()> {
        let full = self.offset + buf.len() as u64 > self.config.segment_bytes;
        if self.file.is_some() && (full || self.opened.elapsed() > SEGMENT_MAX_AGE) {
            self.seal();
        }
        if self.file.is_none() {
            let path = log::segment_path(&self.dir, self.segment);
            let file = OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(&path)?;
            if self.config.fsync != Fsync::Never {
                File::open(&self.dir)?.sync_all()?;
            }
            self.file = Some(file);
            self.offset = 0;
            self.opened = Instant::now();
        }
        let Some(file) = self.file.as_mut() else {
            return Err(std::io::Error::other("no segment open"));
        };
        file.write_all(buf)?;
        self.offset += buf.len() as u64;
        match (self.config.fsync, &self.syncer) {
            (Fsync::Always, _) => file.sync_data()?,
            (Fsync::Interval, Some(syncer))
                if self.last_sync.elapsed()
                    >= Duration::from_millis(self.config.fsync_interval_ms) =>
            {
                // A sync still running covers this one's data soon enough.
                if let Ok(clone) = file.try_clone() {
                    let _ = syncer.try_send(clone);
                }
                self.last_sync = Instant::now();
            }
            _ => {}
        }
        Ok(())
    }

    /// After a failed write: an empty segment is removed (its number is used
    /// again); one with records is sealed, any torn record left as its tail.
    fn abandon(&mut self) {
        let Some(file) = self.file.take() else {
            return;
        };
        let empty = file.metadata().is_ok_and(|m| m.len() == 0);
        drop(file);
        if empty && std::fs::remove_file(log::segment_path(&self.dir, self.segment)).is_ok() {
            return;
        }
        self.seal();
    }

    /// Closes the current segment, if one is open; the next write opens a
    /// new one.
    fn seal(&mut self) {
        if let Some(file) = self.file.take() {
            match (self.config.fsync, &self.syncer) {
                // Handed over whole: the segment's last records are synced too.
                (Fsync::Interval, Some(syncer)) => {
                    let _ = syncer.send(file);
                }
                (Fsync::Never, _) => {}
                _ => {
                    let _ = file.sync_all();
                }
            }
        }
        self.segment += 1;
        self.offset = 0;
        self.committed.send_replace(Position {
            segment: self.segment,
            offset: 0,
        });
    }
}
