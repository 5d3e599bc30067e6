//! The shipper: reads the spool in order and inserts it in batches. Before
//! each insert it records the batch's end and token in the spool's state;
//! after a crash it resends exactly that batch with that token, so the
//! destination's insert deduplication keeps it once. Refused data is
//! quarantined; everything else is retried until it lands.

use super::log::{self, Next, Position, SegmentReader};
use super::state::{State, StateFile};
use crate::delivery::{Backoff, BatchLimits, Destination, Failure};
use crate::metrics::Metrics;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;

pub const QUARANTINE_DIR: &str = "quarantine";
/// Quarantined rows are deleted after this long: kept for diagnosis, not
/// for ever (well within any retention).
pub const QUARANTINE_DAYS: u64 = 30;

/// A batch read from the spool.
#[derive(Debug, Default)]
struct Batch {
    rows: usize,
    /// The rows, as the spool keeps them and ClickHouse takes them.
    data: Bytes,
    end: Position,
    corrupt: u64,
}

#[derive(Debug)]
pub struct Shipper<D> {
    pub dir: PathBuf,
    pub destination: D,
    pub limits: BatchLimits,
    pub backoff: Backoff,
    pub metrics: Metrics,
    /// The spool's bytes on disk, quarantine included.
    pub size: Arc<AtomicU64>,
    pub committed: watch::Receiver<Position>,
    /// As the start reconciled it.
    pub state: State,
    /// Where the state is saved.
    pub state_file: Arc<std::sync::Mutex<StateFile>>,
    /// How long to keep shipping once the service stops and nothing more comes.
    pub shutdown_grace: Duration,
    /// Set when the service starts stopping.
    pub grace_until: std::sync::OnceLock<tokio::time::Instant>,
}

impl<D: Destination> Shipper<D> {
    /// Ships until `stopping` turns true and the spool is drained (or the
    /// grace period ends: what is left stays on disk for the next start).
    pub async fn run(mut self, mut stopping: watch::Receiver<bool>) {
        self.forget_old_quarantine().await;
        let mut state = self.state.clone();
        if let Some((end, token)) = state.pending.clone() {
            // A batch was being inserted when the collector stopped: send it
            // again, same rows, same token.
            self.metrics.spool_replays.inc();
            let batch = self.read(state.position, end, usize::MAX, usize::MAX).await;
            if !self.ship(&mut state, batch, token, &mut stopping).await {
                return;
            }
        }
        // When the rows at the cursor were first seen, to time batches.
        let mut waiting: Option<(Position, tokio::time::Instant)> = None;
        loop {
            let committed = *self.committed.borrow_and_update();
            let done = state.position >= committed;
            if *stopping.borrow() {
                let until = self.grace_deadline();
                if done || tokio::time::Instant::now() >= until {
                    if !done {
                        tracing::warn!(
                            "stopping with rows still in the spool: they are shipped at the next start"
                        );
                    }
                    return;
                }
            }
            if done {
                tokio::select! {
                    _ = self.committed.changed() => {}
                    _ = stopping.changed() => {}
                    () = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
                continue;
            }
            let batch = self
                .read(
                    state.position,
                    committed,
                    self.limits.max_rows,
                    self.limits.max_bytes,
                )
                .await;
            if batch.rows == 0 {
                // Only corrupt bytes: move past them.
                let before = state.position;
                state.position = batch.end;
                if self.store(&state).await {
                    self.metrics.spool_corrupt.inc_by(batch.corrupt);
                    self.drop_consumed(state.position);
                } else {
                    state.position = before;
                    self.pause(0, &mut stopping).await;
                }
                continue;
            }
            let full = batch.rows >= self.limits.max_rows;
            // Measured on this clock, not from the rows' timestamps, which
            // may come from a clock that moved.
            let since = match waiting {
                Some((at, since)) if at == state.position => since,
                _ => {
                    let now = tokio::time::Instant::now();
                    waiting = Some((state.position, now));
                    now
                }
            };
            let age = since.elapsed();
            if !full && age < self.limits.max_delay && !*stopping.borrow() {
                // Let the batch grow until its first row has waited enough.
                tokio::select! {
                    () = tokio::time::sleep(self.limits.max_delay - age) => {}
                    _ = stopping.changed() => {}
                }
                continue;
            }
            let token = token(&state.id, state.position, batch.end);
            if !self.ship(&mut state, batch, token, &mut stopping).await {
                return;
            }
        }
    }

    async fn read(
        &self,
        from: Position,
        limit: Position,
        max_rows: usize,
        max_bytes: usize,
    ) -> Batch {
        let dir = self.dir.clone();
        let result =
            tokio::task::spawn_blocking(move || read_batch(&dir, from, limit, max_rows, max_bytes))
                .await;
        match result {
            Ok(Ok(batch)) => batch,
            Ok(Err(error)) => {
                tracing::error!(%error, "cannot read the spool");
                tokio::time::sleep(Duration::from_secs(1)).await;
                Batch {
                    end: from,
                    ..Batch::default()
                }
            }
            Err(_) => Batch {
                end: from,
                ..Batch::default()
            },
        }
    }

    /// When shipping gives up once the service is stopping.
    fn grace_deadline(&self) -> tokio::time::Instant {
        *self
            .grace_until
            .get_or_init(|| tokio::time::Instant::now() + self.shutdown_grace)
    }

    /// Whether the service is stopping and its grace period is over.
    fn given_up(&self, stopping: &watch::Receiver<bool>) -> bool {
        *stopping.borrow() && tokio::time::Instant::now() >= self.grace_deadline()
    }

    /// Waits before attempt `attempt + 1`, or until the service stops.
    async fn pause(&self, attempt: u32, stopping: &mut watch::Receiver<bool>) {
        tokio::select! {
            () = tokio::time::sleep(self.backoff.delay(attempt)) => {}
            _ = stopping.changed() => {}
        }
    }

    /// Inserts a batch until it lands or is refused and set aside, then moves
    /// the cursor. Returns `false` when the service stops first: the batch
    /// stays pending in the state and is resent at the next start.
    async fn ship(
        &self,
        state: &mut State,
        batch: Batch,
        token: String,
        stopping: &mut watch::Receiver<bool>,
    ) -> bool {
        // No insert before its token is on disk: a batch resent after a crash
        // must be the same rows under the same token.
        state.pending = Some((batch.end, token.clone()));
        let mut attempt = 0;
        while !self.store(state).await {
            if self.given_up(stopping) {
                return false;
            }
            self.pause(attempt, stopping).await;
            attempt = attempt.saturating_add(1);
        }
        let mut attempt: u32 = 0;
        let started = std::time::Instant::now();
        loop {
            let failure = match self
                .destination
                .insert(batch.data.clone(), token.clone())
                .await
            {
                Ok(()) => {
                    self.metrics
                        .insert_duration
                        .observe(started.elapsed().as_secs_f64());
                    self.metrics.batch_rows.observe(batch.rows as f64);
                    self.metrics.batch_bytes.observe(batch.data.len() as f64);
                    self.metrics.rows_inserted.inc_by(batch.rows as u64);
                    break;
                }
                Err(Failure::Data(error)) => {
                    self.metrics
                        .insert_errors
                        .with_label_values(&["data"])
                        .inc();
                    match self.quarantine(&batch, &token, &error).await {
                        Ok(()) => break,
                        // Nothing accepted is dropped: try the insert again, then
                        // the quarantine, until one of them works.
                        Err(io) => format!("quarantine failed: {io}"),
                    }
                }
                Err(Failure::Transient(error)) => {
                    self.metrics
                        .insert_errors
                        .with_label_values(&["transient"])
                        .inc();
                    error
                }
            };
            self.metrics.spool_replays.inc();
            attempt = attempt.saturating_add(1);
            if attempt == 1 || attempt.is_multiple_of(20) {
                tracing::warn!(error = %failure, rows = batch.rows, attempt, "insert failed, rows kept in the spool and retried");
            }
            if self.given_up(stopping) {
                tracing::warn!(
                    rows = batch.rows,
                    "stopping before clickhouse took the batch: it stays in the spool for the next start"
                );
                return false;
            }
            self.pause(attempt - 1, stopping).await;
        }
        // Counted once, as the cursor moves past them.
        self.metrics.spool_corrupt.inc_by(batch.corrupt);
        state.position = batch.end;
        state.pending = None;
        // If this fails, the batch stays pending on disk and a restart
        // resends it under its token: stored once.
        if self.store(state).await {
            self.drop_consumed(state.position);
        }
        true
    }

    /// Saves the state on a blocking thread: the sync can take
    /// milliseconds, which the runtime's workers owe to the hits they serve.
    async fn store(&self, state: &State) -> bool {
        let (state, file) = (state.clone(), Arc::clone(&self.state_file));
        let stored = tokio::task::spawn_blocking(move || {
            file.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .store(&state)
        })
        .await
        .unwrap_or_else(|join| Err(std::io::Error::other(join)));
        match stored {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(%error, "cannot save the spool state");
                false
            }
        }
    }

    /// Deletes the segments wholly before `position`.
    fn drop_consumed(&self, position: Position) {
        let Ok(segments) = log::segments(&self.dir) else {
            return;
        };
        for segment in segments.into_iter().filter(|s| *s < position.segment) {
            let path = log::segment_path(&self.dir, segment);
            let len = std::fs::metadata(&path).map_or(0, |m| m.len());
            if std::fs::remove_file(&path).is_ok() {
                self.released(len);
            }
        }
    }

    /// `len` bytes left the disk.
    fn released(&self, len: u64) {
        let before = self
            .size
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |size| {
                Some(size.saturating_sub(len))
            })
            .unwrap_or(0);
        self.metrics
            .spool_bytes
            .set(i64::try_from(before.saturating_sub(len)).unwrap_or(0));
    }

    /// Keeps refused rows aside, for an operator to look at (and insert
    /// again once fixed): `RowBinary` with the columns of
    /// [`COLUMNS`](crate::row::COLUMNS). Counted in the spool's size.
    async fn quarantine(&self, batch: &Batch, token: &str, error: &str) -> std::io::Result<()> {
        let dir = self.dir.join(QUARANTINE_DIR);
        let path = dir.join(format!("{token}.rowbinary"));
        let (data, target) = (batch.data.clone(), path.clone());
        let written = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
            std::fs::create_dir_all(&dir)?;
            // A resend after a crash may find the file already there.
            let replaced = std::fs::metadata(&target).map_or(0, |m| m.len());
            let tmp = target.with_extension("tmp");
            std::fs::write(&tmp, &data)?;
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &target)?;
            std::fs::File::open(&dir)?.sync_all()?;
            Ok(replaced)
        })
        .await
        .unwrap_or_else(|join| Err(std::io::Error::other(join)));
        let rows = batch.rows;
        match written {
            Ok(replaced) => {
                self.size
                    .fetch_add(batch.data.len() as u64, Ordering::Relaxed);
                self.released(replaced);
                self.metrics.quarantined_batches.inc();
                self.metrics.quarantined_rows.inc_by(rows as u64);
                tracing::error!(%error, rows, file = %path.display(), "batch refused by clickhouse, quarantined");
                Ok(())
            }
            Err(io) => {
                tracing::error!(%error, %io, rows, "batch refused by clickhouse and not yet quarantined");
                Err(io)
            }
        }
    }

    /// Deletes quarantine files older than [`QUARANTINE_DAYS`].
    async fn forget_old_quarantine(&self) {
        let dir = self.dir.join(QUARANTINE_DIR);
        let freed = tokio::task::spawn_blocking(move || forget_old_quarantine(&dir))
            .await
            .unwrap_or(0);
        self.released(freed);
    }
}

/// Deletes quarantine files older than [`QUARANTINE_DAYS`]; returns the
/// bytes freed.
pub fn forget_old_quarantine(dir: &Path) -> u64 {
    let limit = Duration::from_secs(QUARANTINE_DAYS * 86_400);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut freed = 0;
    for entry in entries.filter_map(Result::ok) {
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        let old = metadata
            .modified()
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > limit);
        if old && std::fs::remove_file(entry.path()).is_ok() {
            freed += metadata.len();
        }
    }
    freed
}

/// The bytes of the quarantine files in `dir`.
pub fn quarantine_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum()
    })
}

/// The deduplication token of the rows between two positions of one spool:
/// the same rows always get the same token, and no other spool's rows do.
fn token(spool: &str, from: Position, to: Position) -> String {
    let mut hasher = Sha256::new();
    hasher.update(spool.as_bytes());
    for n in [from.segment, from.offset, to.segment, to.offset] {
        hasher.update(n.to_le_bytes());
    }
    hex::encode(&hasher.finalize()[..16])
}

/// Reads rows from `from` up to `limit`, at most `max_rows` or about `max_bytes`.
fn read_batch(
    dir: &Path,
    from: Position,
    limit: Position,
    max_rows: usize,
    max_bytes: usize,
) -> std::io::Result<Batch> {
    let mut batch = Batch {
        end: from,
        ..Batch::default()
    };
    let segments = log::segments(dir)?;
    let mut position = from;
    let mut data = Vec::new();
    while position < limit && batch.rows < max_rows && data.len() < max_bytes {
        // Skip segments that are gone or were never written.
        let Some(&segment) = segments.iter().find(|s| **s >= position.segment) else {
            position = limit;
            break;
        };
        if segment != position.segment {
            position = Position { segment, offset: 0 };
            if position >= limit {
                position = limit;
                break;
            }
        }
        let sealed = segment < limit.segment;
        let mut reader = SegmentReader::open(dir, position)?;
        let end = if sealed {
            reader.file_len()
        } else {
            limit.offset.min(reader.file_len())
        };
        loop {
            if batch.rows >= max_rows || data.len() >= max_bytes {
                position = reader.position();
                break;
            }
            match reader.next(end, &mut data)? {
                Next::Row => batch.rows += 1,
                Next::End if !sealed => {
                    position = reader.position();
                    break;
                }
                Next::End => {
                    position = Position {
                        segment: segment + 1,
                        offset: 0,
                    };
                    break;
                }
                Next::Corrupt(what) => {
                    batch.corrupt += 1;
                    tracing::warn!(segment, offset = reader.position().offset, %what, "corrupt spool record, rest of the segment skipped");
                    position = if sealed {
                        Position {
                            segment: segment + 1,
                            offset: 0,
                        }
                    } else {
                        limit
                    };
                    break;
                }
            }
        }
    }
    batch.end = position.min(limit).max(from);
    batch.data = Bytes::from(data);
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarantine_older_than_30_days_is_forgotten_and_its_room_given_back() {
        let dir = std::env::temp_dir().join(format!("mesure-quarantine-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        // Dated from the real clock, as the files' own times are.
        let now = std::time::SystemTime::now();
        for (name, days, len) in [("old.rowbinary", 31, 100), ("recent.rowbinary", 29, 7)] {
            let file = std::fs::File::create(dir.join(name)).expect("file");
            file.set_len(len).expect("len");
            file.set_modified(now - Duration::from_secs(days * 86_400))
                .expect("mtime");
        }
        assert_eq!(quarantine_size(&dir), 107);
        assert_eq!(forget_old_quarantine(&dir), 100);
        assert!(!dir.join("old.rowbinary").exists());
        assert!(dir.join("recent.rowbinary").exists());
        assert_eq!(quarantine_size(&dir), 7);
    }

    #[test]
    fn tokens_differ_between_spools_and_ranges() {
        let (a, b) = (
            Position {
                segment: 0,
                offset: 0,
            },
            Position {
                segment: 0,
                offset: 100,
            },
        );
        assert_eq!(token("x", a, b), token("x", a, b));
        assert_ne!(token("x", a, b), token("y", a, b));
        assert_ne!(token("x", a, b), token("x", a, a));
        assert_eq!(token("x", a, b).len(), 32);
    }
}
