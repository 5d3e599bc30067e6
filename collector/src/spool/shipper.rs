//! The shipper: reads the spool in order and inserts it into ClickHouse in
//! batches. Before each insert it records the batch's end and token in the
//! cursor file; after a crash it resends exactly that batch with that token,
//! so ClickHouse's insert deduplication keeps it once. Refused data is
//! quarantined; everything else is retried until it lands.

use super::log::{self, Next, Position, SegmentReader};
use crate::delivery::{BatchLimits, Failure, backoff, classify};
use crate::metrics::Metrics;
use crate::row::{COLUMNS, EVENTS_TABLE};
use bytes::Bytes;
use clickhouse::Client;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;

pub const CURSOR_FILE: &str = "cursor.json";
pub const QUARANTINE_DIR: &str = "quarantine";
/// Quarantined rows are deleted after this long: kept for diagnosis, not
/// for ever (well within any retention).
pub const QUARANTINE_DAYS: u64 = 30;

/// Where shipping stands, kept in `cursor.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Everything before this is in ClickHouse (or quarantined).
    pub position: Position,
    /// A batch being inserted: its end and its deduplication token.
    pub pending: Option<(Position, String)>,
}

impl Cursor {
    pub fn load(dir: &Path) -> std::io::Result<Cursor> {
        match std::fs::read(dir.join(CURSOR_FILE)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(std::io::Error::other),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Cursor::default()),
            Err(error) => Err(error),
        }
    }

    /// Replaces the file atomically and durably.
    pub fn store(&self, dir: &Path) -> std::io::Result<()> {
        let tmp = dir.join(format!("{CURSOR_FILE}.tmp"));
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&serde_json::to_vec(self).map_err(std::io::Error::other)?)?;
        file.sync_all()?;
        std::fs::rename(&tmp, dir.join(CURSOR_FILE))?;
        std::fs::File::open(dir)?.sync_all()
    }
}

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
pub struct Shipper {
    pub dir: PathBuf,
    /// Bound to the Mesure database.
    pub client: Client,
    pub limits: BatchLimits,
    pub metrics: Metrics,
    pub size: Arc<AtomicU64>,
    pub committed: watch::Receiver<Position>,
    /// How long to keep shipping once the service stops and nothing more comes.
    pub shutdown_grace: Duration,
    /// Set when the service starts stopping.
    pub grace_until: std::sync::OnceLock<tokio::time::Instant>,
}

impl Shipper {
    /// Ships until `stopping` turns true and the spool is drained (or the
    /// grace period ends: what is left stays on disk for the next start).
    pub async fn run(mut self, mut stopping: watch::Receiver<bool>) {
        forget_old_quarantine(&self.dir.join(QUARANTINE_DIR));
        let mut cursor = match Cursor::load(&self.dir) {
            Ok(cursor) => cursor,
            Err(error) => {
                tracing::error!(%error, "spool cursor unreadable, shipping from the oldest segment");
                Cursor::default()
            }
        };
        if let Some((end, token)) = cursor.pending.clone() {
            // A batch was being inserted when the collector stopped: send it
            // again, same rows, same token.
            self.metrics.spool_replays.inc();
            let batch = self
                .read(cursor.position, end, usize::MAX, usize::MAX)
                .await;
            if !self.ship(&mut cursor, batch, token, &mut stopping).await {
                return;
            }
        }
        // When the rows at the cursor were first seen, to time batches.
        let mut waiting: Option<(Position, tokio::time::Instant)> = None;
        loop {
            let committed = *self.committed.borrow_and_update();
            let done = cursor.position >= committed;
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
                    cursor.position,
                    committed,
                    self.limits.max_rows,
                    self.limits.max_bytes,
                )
                .await;
            if batch.rows == 0 {
                // Only corrupt bytes: move past them.
                self.metrics.spool_corrupt.inc_by(batch.corrupt);
                cursor.position = batch.end;
                self.store(&cursor).await;
                self.drop_consumed(cursor.position);
                continue;
            }
            let full = batch.rows >= self.limits.max_rows;
            // Measured on this clock, not from the rows' timestamps, which
            // may come from a clock that moved.
            let since = match waiting {
                Some((at, since)) if at == cursor.position => since,
                _ => {
                    let now = tokio::time::Instant::now();
                    waiting = Some((cursor.position, now));
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
            let token = token(cursor.position, batch.end);
            if !self.ship(&mut cursor, batch, token, &mut stopping).await {
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

    /// Inserts a batch until it lands or is refused, then moves the cursor.
    /// When shipping gives up once the service is stopping.
    fn grace_deadline(&self) -> tokio::time::Instant {
        *self
            .grace_until
            .get_or_init(|| tokio::time::Instant::now() + self.shutdown_grace)
    }

    /// Returns `false` when the service stops before the batch could land:
    /// it stays pending in the cursor and is resent at the next start.
    async fn ship(
        &self,
        cursor: &mut Cursor,
        batch: Batch,
        token: String,
        stopping: &mut watch::Receiver<bool>,
    ) -> bool {
        cursor.pending = Some((batch.end, token.clone()));
        self.store(cursor).await;
        let mut attempt = 0;
        let started = std::time::Instant::now();
        loop {
            match insert(&self.client, &batch.data, &token).await {
                Ok(()) => {
                    self.metrics
                        .insert_duration
                        .observe(started.elapsed().as_secs_f64());
                    self.metrics.batch_rows.observe(batch.rows as f64);
                    self.metrics.batch_bytes.observe(batch.data.len() as f64);
                    self.metrics.rows_inserted.inc_by(batch.rows as u64);
                    break;
                }
                Err(error) => match classify(&error) {
                    Failure::Data => {
                        self.metrics
                            .insert_errors
                            .with_label_values(&["data"])
                            .inc();
                        self.quarantine(&batch, &token, &error);
                        break;
                    }
                    Failure::Transient => {
                        self.metrics
                            .insert_errors
                            .with_label_values(&["transient"])
                            .inc();
                        self.metrics.spool_replays.inc();
                        let delay = backoff(attempt);
                        attempt = attempt.saturating_add(1);
                        if attempt == 1 || attempt % 20 == 0 {
                            tracing::warn!(%error, rows = batch.rows, attempt, "insert failed, rows kept in the spool and retried");
                        }
                        if *stopping.borrow()
                            && tokio::time::Instant::now() >= self.grace_deadline()
                        {
                            tracing::warn!(
                                rows = batch.rows,
                                "stopping before clickhouse took the batch: it stays in the spool for the next start"
                            );
                            return false;
                        }
                        tokio::select! {
                            () = tokio::time::sleep(delay) => {}
                            _ = stopping.changed() => {}
                        }
                    }
                },
            }
        }
        // Counted once, as the cursor moves past them.
        self.metrics.spool_corrupt.inc_by(batch.corrupt);
        cursor.position = batch.end;
        cursor.pending = None;
        self.store(cursor).await;
        self.drop_consumed(cursor.position);
        true
    }

    /// On a blocking thread: the two syncs can take milliseconds, which
    /// the runtime's workers owe to the hits they serve.
    async fn store(&self, cursor: &Cursor) {
        let (cursor, dir) = (cursor.clone(), self.dir.clone());
        let stored = tokio::task::spawn_blocking(move || cursor.store(&dir))
            .await
            .unwrap_or_else(|join| Err(std::io::Error::other(join)));
        if let Err(error) = stored {
            tracing::error!(%error, "cannot save the spool cursor");
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
                let before = self.size.fetch_sub(
                    len.min(self.size.load(Ordering::Relaxed)),
                    Ordering::Relaxed,
                );
                self.metrics
                    .spool_bytes
                    .set(i64::try_from(before.saturating_sub(len)).unwrap_or(0));
            }
        }
    }

    /// Keeps refused rows aside, for an operator to look at (and insert
    /// again once fixed): `RowBinary` with the columns of [`COLUMNS`].
    fn quarantine(&self, batch: &Batch, token: &str, error: &clickhouse::error::Error) {
        let rows = batch.rows;
        self.metrics.quarantined_batches.inc();
        self.metrics.quarantined_rows.inc_by(rows as u64);
        let dir = self.dir.join(QUARANTINE_DIR);
        let path = dir.join(format!("{token}.rowbinary"));
        let written =
            std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, &batch.data));
        forget_old_quarantine(&dir);
        match written {
            Ok(()) => {
                tracing::error!(%error, rows, file = %path.display(), "batch refused by clickhouse, quarantined")
            }
            Err(io) => {
                tracing::error!(%error, %io, rows, "batch refused by clickhouse and could not be quarantined")
            }
        }
    }
}

/// Deletes quarantine files older than [`QUARANTINE_DAYS`].
pub fn forget_old_quarantine(dir: &Path) {
    let limit = Duration::from_secs(QUARANTINE_DAYS * 86_400);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > limit);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The deduplication token of the rows between two positions: the same
/// rows always get the same token.
fn token(from: Position, to: Position) -> String {
    let mut hasher = Sha256::new();
    for n in [from.segment, from.offset, to.segment, to.offset] {
        hasher.update(n.to_le_bytes());
    }
    hasher.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Sends a batch's `RowBinary` as it is, in chunks of about a megabyte
/// (each compressed on its own).
async fn insert(
    client: &Client,
    data: &Bytes,
    token: &str,
) -> Result<(), clickhouse::error::Error> {
    const CHUNK: usize = 1 << 20;
    let mut insert = client
        .insert_formatted_with(format!(
            "INSERT INTO {EVENTS_TABLE} ({COLUMNS}) FORMAT RowBinary"
        ))
        .with_setting("insert_deduplication_token", token)
        // The sessions and hourly rollups fed by views are deduplicated too.
        .with_setting("deduplicate_blocks_in_dependent_materialized_views", "1");
    let mut from = 0;
    while from < data.len() {
        let to = (from + CHUNK).min(data.len());
        insert.send(data.slice(from..to)).await?;
        from = to;
    }
    insert.end().await
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
