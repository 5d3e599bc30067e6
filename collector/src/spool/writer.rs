//! The spool writer: a hit is acknowledged only once its rows are written
//! (and synced, per policy).
//!
//! Hits are written in rounds. A task encodes its rows into the open round
//! and yields once, so that the other tasks ready on the runtime add theirs;
//! the first of them to run again takes the round and, when the log is free
//! and no sync is due per write, appends it itself in one `write(2)`. The
//! others find the outcome decided when they run. While hits do not
//! overlap (the last round had one), a hit skips the wait and is written at
//! once. Otherwise (the log busy, a segment to open, `fsync = "always"`)
//! the round goes to the writer thread, which appends whatever waits in one
//! group. Outcomes are counted where
//! they are decided, and a task dropped before its round was taken writes
//! it, so a client that disconnects can neither strand nor leave uncounted
//! a row the spool took.

use super::log::{self, Position};
use super::{Fsync, SpoolConfig};
use crate::delivery::{Pending, Rows, Sink, count};
use crate::event::DropReason;
use crate::metrics::Metrics;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, TryLockError};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, watch};

/// Rounds taken into one write by the writer thread at most.
const MAX_GROUP: usize = 4096;
/// A segment is closed after this long even if not full, so that shipped
/// rows leave the disk soon on a quiet site too.
const SEGMENT_MAX_AGE: Duration = Duration::from_secs(3600);
/// How often a disk error is logged at most.
const ERROR_LOG_EVERY: Duration = Duration::from_secs(10);
/// A round's buffer is kept for the next one up to this size (a Matomo
/// bulk request can make one far larger).
const KEPT_BUFFER: usize = 256 * 1024;

type Outcome = Result<(), DropReason>;

/// The outcome of one round, shared by the hits in it.
#[derive(Debug, Default)]
struct Round {
    outcome: OnceLock<Outcome>,
    decided: Notify,
}

impl Round {
    fn decide(&self, outcome: Outcome) {
        let _ = self.outcome.set(outcome);
        self.decided.notify_waiters();
    }

    async fn outcome(&self) -> Outcome {
        loop {
            let mut decided = std::pin::pin!(self.decided.notified());
            // Registered before looking, so a decision in between is seen.
            decided.as_mut().enable();
            if let Some(outcome) = self.outcome.get() {
                return *outcome;
            }
            decided.await;
        }
    }
}

/// The open round: records gathered since the last one was taken.
#[derive(Debug, Default)]
struct Gathered {
    records: Vec<u8>,
    rows: usize,
    round: Arc<Round>,
    /// The last round's buffer, for the next.
    spare: Vec<u8>,
    /// Whether the last round had more than one hit: hits overlap, and a
    /// round's first hit waits for the others. Else it is written at once,
    /// since a lone hit's wait costs more than the write it would share.
    overlapping: bool,
    /// Lone rounds counted, so that every `PROBE_EVERY`th waits anyway
    /// and a rising load is seen.
    alone: u32,
}

/// How often a lone round's first hit waits anyway, to see whether hits
/// overlap again.
const PROBE_EVERY: u32 = 16;

/// A round handed to the writer thread.
struct Entry {
    records: Vec<u8>,
    rows: usize,
    round: Arc<Round>,
}

/// The collector's sink.
#[derive(Debug, Clone)]
pub struct SpoolSink(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    gathered: Mutex<Gathered>,
    writer: Arc<Mutex<Writer>>,
    /// Whether a task may append a round itself: not when every write is
    /// synced, which the thread does once for a whole group.
    inline: bool,
    tx: mpsc::UnboundedSender<Entry>,
    /// Rows handed to the writer thread and not yet written.
    queued: Arc<AtomicUsize>,
    max_queued: usize,
    metrics: Metrics,
}

impl SpoolSink {
    /// Rows waiting for the writer thread.
    pub fn queued(&self) -> usize {
        self.0.queued.load(Ordering::Relaxed)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Sink for SpoolSink {
    fn push(&self, rows: Rows) -> Pending {
        if rows.is_empty() {
            return Pending::Done(Ok(()));
        }
        let (round, wait) = {
            let mut gathered = lock(&self.0.gathered);
            let first = gathered.rows == 0;
            for row in rows.iter() {
                log::encode(row, &mut gathered.records);
            }
            gathered.rows += rows.len();
            let wait = !first || gathered.overlapping || {
                gathered.alone = gathered.alone.wrapping_add(1);
                gathered.alone.is_multiple_of(PROBE_EVERY)
            };
            (Arc::clone(&gathered.round), wait)
        };
        // Freed here, by the thread that made them, outside the lock.
        drop(rows);
        if !wait {
            self.0.write_round(&round);
            if let Some(outcome) = round.outcome.get() {
                return Pending::Done(*outcome);
            }
        }
        let turn = Turn {
            shared: Arc::clone(&self.0),
            round,
        };
        Pending::Later(Box::pin(async move {
            let turn = turn;
            if wait {
                // The hits ready now join this round before it is written.
                tokio::task::yield_now().await;
                turn.shared.write_round(&turn.round);
            }
            turn.round.outcome().await
        }))
    }
}

/// A hit's claim on its round: whoever runs first writes it, and a hit
/// dropped before that writes it on the way out.
struct Turn {
    shared: Arc<Shared>,
    round: Arc<Round>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        if self.round.outcome.get().is_none() {
            self.shared.write_round(&self.round);
        }
    }
}

impl Shared {
    /// Takes the open round if it is still `round`, and appends it at once
    /// when the log is free, else hands it to the writer thread.
    // Never inlined: the benchmarks' profile finds the spool's share by name.
    #[inline(never)]
    fn write_round(&self, round: &Arc<Round>) {
        let (records, rows, round) = {
            let mut gathered = lock(&self.gathered);
            if !Arc::ptr_eq(&gathered.round, round) {
                return;
            }
            let spare = std::mem::take(&mut gathered.spare);
            let records = std::mem::replace(&mut gathered.records, spare);
            let rows = std::mem::take(&mut gathered.rows);
            let round = std::mem::take(&mut gathered.round);
            gathered.overlapping = rows > 1;
            (records, rows, round)
        };
        if self.inline {
            // Never waits for the lock: a busy log means the thread's turn.
            let writer = match self.writer.try_lock() {
                Ok(writer) => Some(writer),
                Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
                Err(TryLockError::WouldBlock) => None,
            };
            if let Some(mut writer) = writer
                && writer.appends_in_place(records.len())
            {
                let outcome = writer.append(&records);
                drop(writer);
                count(&self.metrics, rows, outcome);
                round.decide(outcome);
                self.recycle(records);
                return;
            }
        }
        self.hand_over(Entry {
            records,
            rows,
            round,
        });
    }

    fn recycle(&self, mut records: Vec<u8>) {
        if records.capacity() <= KEPT_BUFFER {
            records.clear();
            let mut gathered = lock(&self.gathered);
            if gathered.spare.capacity() == 0 {
                gathered.spare = records;
            }
        }
    }

    fn hand_over(&self, entry: Entry) {
        let before = self.queued.fetch_add(entry.rows, Ordering::AcqRel);
        // The writer is behind: shed rather than grow memory (a request
        // larger than the queue still goes through an empty one).
        let shed = before > 0 && before + entry.rows > self.max_queued;
        let refused = if shed {
            Some(entry)
        } else {
            self.tx.send(entry).err().map(|error| error.0)
        };
        if let Some(entry) = refused {
            self.queued.fetch_sub(entry.rows, Ordering::AcqRel);
            let outcome = Err(DropReason::Overloaded);
            count(&self.metrics, entry.rows, outcome);
            entry.round.decide(outcome);
        }
    }
}

/// Bytes written and bytes known to be on disk, for `fsync = "interval"`.
#[derive(Debug, Default)]
struct Durability {
    written: AtomicU64,
    synced: AtomicU64,
}

/// What the sync thread is handed.
enum SyncJob {
    /// The segment now written to: synced on each tick while it has news.
    Current(File),
    /// A closed segment: synced once, at once.
    Sealed(File),
}

/// Syncs the spool on its own thread, every `interval` while something was
/// written since the last sync: no hit waits for a disk flush, and after a
/// burst the last rows are on disk within the interval, not whenever a
/// later write comes.
fn start_syncer(
    interval: Duration,
    durability: Arc<Durability>,
    metrics: Metrics,
) -> std::io::Result<std::sync::mpsc::Sender<SyncJob>> {
    let (tx, rx) = std::sync::mpsc::channel::<SyncJob>();
    std::thread::Builder::new()
        .name("spool-sync".into())
        .spawn(move || {
            let sync = |file: &File| match file.sync_data() {
                Ok(()) => metrics.spool_fsyncs.inc(),
                Err(error) => tracing::error!(%error, "cannot sync the spool"),
            };
            let mut current: Option<File> = None;
            let mut next_tick = Instant::now() + interval;
            loop {
                let wait = next_tick.saturating_duration_since(Instant::now());
                let job = match rx.recv_timeout(wait) {
                    Ok(job) => Some(job),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => None,
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                };
                match job {
                    Some(SyncJob::Sealed(file)) => sync(&file),
                    Some(SyncJob::Current(file)) => current = Some(file),
                    None => {
                        next_tick = Instant::now() + interval;
                        // Read first: every byte counted was written to a file
                        // whose job is queued before it.
                        let written = durability.written.load(Ordering::Acquire);
                        if written == durability.synced.load(Ordering::Acquire) {
                            continue;
                        }
                        while let Ok(job) = rx.try_recv() {
                            match job {
                                SyncJob::Sealed(file) => sync(&file),
                                SyncJob::Current(file) => current = Some(file),
                            }
                        }
                        if let Some(file) = &current {
                            sync(file);
                        }
                        durability.synced.fetch_max(written, Ordering::AcqRel);
                        metrics.spool_unsynced_bytes.set(
                            i64::try_from(
                                durability
                                    .written
                                    .load(Ordering::Acquire)
                                    .saturating_sub(written),
                            )
                            .unwrap_or(i64::MAX),
                        );
                    }
                }
            }
            if let Some(file) = &current {
                sync(file);
            }
        })?;
    Ok(tx)
}

pub(super) struct Writer {
    dir: PathBuf,
    config: SpoolConfig,
    metrics: Metrics,
    size: Arc<AtomicU64>,
    committed: watch::Sender<Position>,
    segment: u64,
    offset: u64,
    file: Option<File>,
    opened: Instant,
    last_error_log: Option<Instant>,
    /// With `fsync = "interval"`: the sync thread and what it has synced.
    syncer: Option<(std::sync::mpsc::Sender<SyncJob>, Arc<Durability>)>,
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
    let (tx, rx) = mpsc::unbounded_channel();
    let syncer = match config.fsync {
        Fsync::Interval => {
            let durability = Arc::new(Durability::default());
            let interval = Duration::from_millis(config.fsync_interval_ms.max(1));
            let tx = start_syncer(interval, Arc::clone(&durability), metrics.clone())?;
            Some((tx, durability))
        }
        Fsync::Always | Fsync::Never => None,
    };
    let inline = config.fsync != Fsync::Always;
    let writer = Arc::new(Mutex::new(Writer {
        dir: dir.to_path_buf(),
        config: config.clone(),
        metrics: metrics.clone(),
        size,
        committed,
        segment: first_segment,
        offset: 0,
        file: None,
        opened: Instant::now(),
        last_error_log: None,
        syncer,
    }));
    let queued = Arc::new(AtomicUsize::new(0));
    let thread = Thread {
        writer: Arc::clone(&writer),
        metrics: metrics.clone(),
        queued: Arc::clone(&queued),
    };
    let handle = std::thread::Builder::new()
        .name("spool-writer".into())
        .spawn(move || thread.run(rx))?;
    Ok((
        SpoolSink(Arc::new(Shared {
            gathered: Mutex::new(Gathered::default()),
            writer,
            inline,
            tx,
            queued,
            max_queued: config.writer_queue.max(1),
            metrics,
        })),
        handle,
    ))
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("segment", &self.segment)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

/// The writer thread: appends the rounds the tasks handed over, a group at
/// a time.
struct Thread {
    writer: Arc<Mutex<Writer>>,
    metrics: Metrics,
    queued: Arc<AtomicUsize>,
}

impl Thread {
    fn run(self, mut rx: mpsc::UnboundedReceiver<Entry>) {
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
                buf.extend_from_slice(&entry.records);
            }
            let outcome = lock(&self.writer).append(&buf);
            for entry in group.drain(..) {
                // Counted here, whether or not anyone still waits.
                count(&self.metrics, entry.rows, outcome);
                self.queued.fetch_sub(entry.rows, Ordering::AcqRel);
                entry.round.decide(outcome);
            }
        }
        // The service is stopping: make what was written durable.
        let writer = lock(&self.writer);
        if let Some(file) = &writer.file
            && writer.config.fsync != Fsync::Never
            && file.sync_all().is_ok()
        {
            writer.metrics.spool_fsyncs.inc();
        }
    }
}

impl Writer {
    /// Whether `len` bytes go into the open segment as they are: no segment
    /// to open or close, which may sync a file or the directory.
    fn appends_in_place(&self, len: usize) -> bool {
        self.file.is_some()
            && self.offset + len as u64 <= self.config.segment_bytes
            && self.opened.elapsed() <= SEGMENT_MAX_AGE
    }

    /// Writes a group whole or not at all.
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
                self.undo();
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
            if let Some((syncer, _)) = &self.syncer {
                match file.try_clone() {
                    Ok(clone) => {
                        let _ = syncer.send(SyncJob::Current(clone));
                    }
                    // Synced when sealed, then.
                    Err(error) => {
                        tracing::warn!(%error, "spool segment not handed to the sync thread")
                    }
                }
            }
            self.file = Some(file);
            self.offset = 0;
            self.opened = Instant::now();
            if self.config.fsync != Fsync::Never {
                File::open(&self.dir)?.sync_all()?;
            }
        }
        let Some(file) = self.file.as_mut() else {
            return Err(std::io::Error::other("no segment open"));
        };
        file.write_all(buf)?;
        match (self.config.fsync, &self.syncer) {
            (Fsync::Always, _) => {
                file.sync_data()?;
                self.metrics.spool_fsyncs.inc();
            }
            (Fsync::Interval, Some((_, durability))) => {
                let written = durability
                    .written
                    .fetch_add(buf.len() as u64, Ordering::AcqRel)
                    + buf.len() as u64;
                self.metrics.spool_unsynced_bytes.set(
                    i64::try_from(
                        written.saturating_sub(durability.synced.load(Ordering::Acquire)),
                    )
                    .unwrap_or(i64::MAX),
                );
            }
            _ => {}
        }
        self.offset += buf.len() as u64;
        Ok(())
    }

    /// After a failed write: the segment is cut back to its last whole group,
    /// so that rows never acknowledged are never shipped. If even that
    /// fails, the segment is sealed with its torn tail, which the shipper
    /// detects and skips.
    fn undo(&mut self) {
        let Some(file) = &self.file else {
            return;
        };
        if file.set_len(self.offset).is_err() {
            self.seal();
        }
    }

    /// Closes the current segment, if one is open; the next write opens a
    /// new one.
    fn seal(&mut self) {
        if let Some(file) = self.file.take() {
            match (self.config.fsync, &self.syncer) {
                // Handed over whole: the segment's last records are synced too.
                (Fsync::Interval, Some((syncer, _))) => {
                    let _ = syncer.send(SyncJob::Sealed(file));
                }
                (Fsync::Never, _) => {}
                _ => {
                    if file.sync_all().is_ok() {
                        self.metrics.spool_fsyncs.inc();
                    }
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
