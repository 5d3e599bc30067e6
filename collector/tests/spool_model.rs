//! The spool as a state machine, under random sequences of writes,
//! shipping (inserts that land, fail, are refused, or land and then lose
//! their answer), graceful restarts, crashes (the shipper killed wherever it
//! is, the writer dropped), torn tails and a full disk (a real tmpfs).
//!
//! After every step: no row is stored twice, and every acknowledged row is
//! stored once, or still pending in the spool past its saved cursor, or set
//! aside in its quarantine. At the end, the disk freed and the destination
//! well again, every acknowledged row is stored exactly once or quarantined.
//!
//! The destination is in memory and deduplicates by token as ClickHouse's
//! insert deduplication does; the spool's files are real.

use bytes::Bytes;
use mesure_collector::delivery::{Backoff, BatchLimits, Destination, Failure, Rows, Sink};
use mesure_collector::event::DropReason;
use mesure_collector::metrics::Metrics;
use mesure_collector::row::EventRow;
use mesure_collector::spool::log::{Next, SegmentReader, segment_path, segments};
use mesure_collector::spool::{Fsync, Position, QUARANTINE_DIR, Spool, SpoolConfig, State};
use mesure_testkit::disk::SmallDisk;
use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the destination does with the next insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Insert {
    Land,
    /// Refused for now (ClickHouse down, a timeout): retried.
    Fail,
    /// Refused as wrong data: quarantined.
    Refuse,
    /// Stored, but the answer is lost: retried under the same token.
    LandThenFail,
    /// Stored, then no answer ever: the next step should be a crash.
    LandThenHang,
    /// No answer ever, nothing stored.
    Hang,
}

#[derive(Debug, Clone)]
enum Step {
    /// Hits, and which of them are cancelled before their outcome (bit i:
    /// the client of hit i left).
    Write(u8, u16),
    Ship(Vec<Insert>),
    Restart,
    Crash,
    TornTail,
    DiskFull,
    DiskFree,
}

fn insert() -> impl Strategy<Value = Insert> {
    prop_oneof![
        4 => Just(Insert::Land),
        2 => Just(Insert::Fail),
        1 => Just(Insert::Refuse),
        1 => Just(Insert::LandThenFail),
        1 => Just(Insert::LandThenHang),
        1 => Just(Insert::Hang),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => (1u8..=12, prop_oneof![3 => Just(0u16), 1 => any::<u16>()])
            .prop_map(|(rows, gone)| Step::Write(rows, gone)),
        5 => proptest::collection::vec(insert(), 1..=4).prop_map(Step::Ship),
        2 => Just(Step::Restart),
        2 => Just(Step::Crash),
        1 => Just(Step::TornTail),
        1 => Just(Step::DiskFull),
        1 => Just(Step::DiskFree),
    ]
}

fn fsync() -> impl Strategy<Value = Fsync> {
    prop_oneof![
        Just(Fsync::Always),
        Just(Fsync::Interval),
        Just(Fsync::Never)
    ]
}

/// The ids of the rows in `RowBinary` bytes: each path is `/p/` and 8 digits.
fn ids(data: &[u8]) -> Vec<u64> {
    data.windows(11)
        .filter(|w| w.starts_with(b"/p/") && w[3..].iter().all(u8::is_ascii_digit))
        .filter_map(|w| std::str::from_utf8(&w[3..]).ok()?.parse().ok())
        .collect()
}

#[derive(Debug, Default)]
struct Contents {
    /// Rows stored, by id.
    rows: HashMap<u64, u32>,
    taken: HashSet<String>,
    refused: HashSet<String>,
}

/// An `events` table in memory, deduplicating inserts by token. As with
/// ClickHouse, refusing data is deterministic: rows refused once are always
/// refused, rows taken once are never refused.
#[derive(Debug, Default)]
struct Table {
    stored: Mutex<Contents>,
    /// What the next inserts do, in order; an insert waits for its turn.
    script: Mutex<std::collections::VecDeque<Insert>>,
    added: tokio::sync::Notify,
}

impl Table {
    fn land(&self, data: &[u8], token: &str) {
        let mut stored = self.stored.lock().expect("table");
        if stored.taken.insert(token.to_owned()) {
            for id in ids(data) {
                *stored.rows.entry(id).or_default() += 1;
            }
        }
    }

    fn stored(&self) -> HashMap<u64, u32> {
        self.stored.lock().expect("table").rows.clone()
    }
}

#[derive(Debug, Clone)]
struct Shared(Arc<Table>);

impl Destination for Shared {
    async fn insert(&self, data: Bytes, token: String) -> Result<(), Failure> {
        // Wait for its turn in the script.
        let mut next = loop {
            let added = self.0.added.notified();
            tokio::pin!(added);
            added.as_mut().enable();
            if let Some(next) = self.0.script.lock().expect("script").pop_front() {
                break next;
            }
            added.await;
        };
        {
            let tokens = self.0.stored.lock().expect("table");
            if tokens.refused.contains(&token) {
                next = Insert::Refuse;
            } else if next == Insert::Refuse && tokens.taken.contains(&token) {
                next = Insert::Land;
            }
        }
        match next {
            Insert::Land => {
                self.0.land(&data, &token);
                Ok(())
            }
            Insert::Fail => Err(Failure::Transient("down for now".into())),
            Insert::Refuse => {
                self.0.stored.lock().expect("table").refused.insert(token);
                Err(Failure::Data("Code: 27. cannot parse".into()))
            }
            Insert::LandThenFail => {
                self.0.land(&data, &token);
                Err(Failure::Transient("answer lost".into()))
            }
            Insert::LandThenHang => {
                self.0.land(&data, &token);
                std::future::pending().await
            }
            Insert::Hang => std::future::pending().await,
        }
    }
}

/// An open spool with its shipper running.
struct Open {
    sink: mesure_collector::spool::SpoolSink,
    metrics: Metrics,
    /// Rows handed to this sink.
    pushed: u64,
    writer: std::thread::JoinHandle<()>,
    shipper: tokio::task::JoinHandle<()>,
    stop: tokio::sync::watch::Sender<bool>,
    _lock: std::fs::File,
}

struct Harness {
    disk: Arc<SmallDisk>,
    dir: PathBuf,
    config: SpoolConfig,
    table: Arc<Table>,
    open: Option<Open>,
    acked: BTreeSet<u64>,
    next_id: u64,
    full: bool,
}

impl Harness {
    async fn new(disk: Arc<SmallDisk>, case: u64, fsync: Fsync) -> Harness {
        let dir = disk.dir.join(format!("case-{case}"));
        std::fs::create_dir_all(&dir).expect("case dir");
        let table = Arc::new(Table::default());
        let config = SpoolConfig {
            dir: dir.clone(),
            max_bytes: 1 << 20,
            // Small: many segments, sealed and deleted as rows ship.
            segment_bytes: 600,
            fsync,
            fsync_interval_ms: 5,
            writer_queue: 1024,
        };
        let mut harness = Harness {
            disk,
            dir,
            config,
            table,
            open: None,
            acked: BTreeSet::new(),
            next_id: 0,
            full: false,
        };
        harness.start();
        harness
    }

    fn start(&mut self) {
        let metrics = Metrics::new();
        let spool = Spool::open(
            &self.config,
            Shared(Arc::clone(&self.table)),
            BatchLimits {
                max_rows: 4,
                max_bytes: 1 << 20,
                max_delay: Duration::from_millis(1),
            },
            metrics.clone(),
            Duration::ZERO,
        )
        .expect("the spool opens, full disk or not");
        let mut shipper = spool.shipper;
        shipper.backoff = Backoff {
            first: Duration::from_millis(1),
            max: Duration::from_millis(4),
        };
        let (stop, stopping) = tokio::sync::watch::channel(false);
        self.open = Some(Open {
            sink: spool.sink,
            metrics,
            pushed: 0,
            writer: spool.writer,
            shipper: tokio::spawn(shipper.run(stopping)),
            stop,
            _lock: spool._lock,
        });
    }

    /// Stops the spool: gracefully (the shipper told, given a moment) or
    /// as a crash (the shipper killed wherever it is).
    async fn stop(&mut self, graceful: bool) {
        let Some(open) = self.open.take() else {
            return;
        };
        if graceful {
            let _ = open.stop.send(true);
        }
        drop(open.sink);
        let writer = open.writer;
        tokio::task::spawn_blocking(move || writer.join())
            .await
            .expect("join")
            .expect("the writer ends");
        // Every row the sink took is decided and counted once, cancelled or not.
        // The spool's one reason to drop.
        let dropped = open.metrics.dropped_count(DropReason::Overloaded);
        assert_eq!(
            open.metrics.hits_accepted.get() + dropped,
            open.pushed,
            "rows counted as accepted or dropped"
        );
        let mut shipper = open.shipper;
        if !graceful
            || tokio::time::timeout(Duration::from_millis(100), &mut shipper)
                .await
                .is_err()
        {
            shipper.abort();
            let _ = shipper.await;
        }
        drop(open._lock);
    }

    async fn run(&mut self, step: &Step) {
        match step {
            Step::Write(rows, gone) => {
                let Some(open) = &mut self.open else { return };
                open.pushed += u64::from(*rows);
                let ids: Vec<u64> = (1..=u64::from(*rows)).map(|i| self.next_id + i).collect();
                self.next_id += u64::from(*rows);
                // From two threads at once, as from two workers: a hit
                // finding the log busy goes through the writer thread.
                let waiting: Vec<_> = std::thread::scope(|scope| {
                    let sink = &open.sink;
                    let push = |ids: &[u64]| {
                        ids.iter()
                            .map(|&id| {
                                let row = EventRow::pageview("s", 1_000, &format!("/p/{id:08}"));
                                (id, sink.push(Rows::One(row)))
                            })
                            .collect::<Vec<_>>()
                    };
                    let (first, second) = ids.split_at(ids.len() / 2);
                    let other = scope.spawn(move || push(second));
                    let mut waiting = push(first);
                    waiting.extend(other.join().expect("pushing thread"));
                    waiting
                });
                for (i, (id, pending)) in waiting.into_iter().enumerate() {
                    if gone & (1 << i) != 0 {
                        // Never polled: its row is written all the same.
                        drop(pending);
                    } else if pending.outcome().await.is_ok() {
                        self.acked.insert(id);
                    }
                }
            }
            Step::Ship(inserts) => {
                self.script(inserts);
                // Until taken, or nothing is left to ship.
                for _ in 0..100 {
                    if self.table.script.lock().expect("script").is_empty() || self.idle() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                self.table.script.lock().expect("script").clear();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Step::Restart => {
                self.stop(true).await;
                self.start();
            }
            Step::Crash => {
                self.stop(false).await;
                self.start();
            }
            Step::TornTail => {
                self.stop(false).await;
                // A crash in the middle of a write: half a record at the end.
                if let Some(last) = segments(&self.dir).expect("segments").last() {
                    let mut half = Vec::new();
                    mesure_collector::spool::log::encode(
                        &EventRow::pageview("s", 1_000, "/torn/x"),
                        &mut half,
                    );
                    half.truncate(half.len() / 2);
                    use std::io::Write;
                    if let Ok(mut file) = std::fs::OpenOptions::new()
                        .append(true)
                        .open(segment_path(&self.dir, *last))
                    {
                        let _ = file.write_all(&half);
                    }
                }
                self.start();
            }
            Step::DiskFull => {
                if !self.full {
                    self.full = self.disk.fill("ballast");
                }
            }
            Step::DiskFree => {
                let _ = std::fs::remove_file(self.disk.dir.join("ballast"));
                self.full = false;
            }
        }
    }

    /// Nothing to ship: no batch pending, no row past the cursor.
    fn idle(&self) -> bool {
        State::load(&self.dir)
            .ok()
            .flatten()
            .is_some_and(|state| state.pending.is_none())
            && self.pending().is_empty()
    }

    /// Queues what the next inserts do.
    fn script(&self, inserts: &[Insert]) {
        self.table
            .script
            .lock()
            .expect("script")
            .extend(inserts.iter().copied());
        self.table.added.notify_waiters();
    }

    /// The ids still in the spool past its saved cursor.
    fn pending(&self) -> HashSet<u64> {
        let Some(state) = State::load(&self.dir).expect("state readable") else {
            return HashSet::new();
        };
        let mut found = HashSet::new();
        for segment in segments(&self.dir).expect("segments") {
            let from = match segment.cmp(&state.position.segment) {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Equal => state.position.offset,
                std::cmp::Ordering::Greater => 0,
            };
            let at = Position {
                segment,
                offset: from,
            };
            // Shipped and deleted meanwhile: then stored, read after this.
            let Ok(mut reader) = SegmentReader::open(&self.dir, at) else {
                continue;
            };
            let mut data = Vec::new();
            while let Ok(Next::Row) = reader.next(u64::MAX, &mut data) {}
            found.extend(ids(&data));
        }
        found
    }

    fn quarantined(&self) -> HashMap<u64, u32> {
        let mut found = HashMap::new();
        if let Ok(entries) = std::fs::read_dir(self.dir.join(QUARANTINE_DIR)) {
            for entry in entries.filter_map(Result::ok) {
                if entry.path().extension().is_some_and(|e| e == "rowbinary") {
                    for id in ids(&std::fs::read(entry.path()).unwrap_or_default()) {
                        *found.entry(id).or_default() += 1;
                    }
                }
            }
        }
        found
    }

    /// The invariant, checked between steps.
    fn check(&self, after: &Step) -> Result<(), TestCaseError> {
        // Read in the order rows move: pending, then quarantined or stored.
        let pending = self.pending();
        let quarantined = self.quarantined();
        let stored = self.table.stored();
        for (id, count) in &stored {
            prop_assert_eq!(
                *count,
                1,
                "row {} stored {} times after {:?}",
                id,
                count,
                after
            );
            prop_assert!(
                !quarantined.contains_key(id),
                "row {} both stored and quarantined",
                id
            );
        }
        for (id, count) in &quarantined {
            prop_assert_eq!(*count, 1, "row {} quarantined {} times", id, count);
        }
        for id in &self.acked {
            prop_assert!(
                stored.contains_key(id) || pending.contains(id) || quarantined.contains_key(id),
                "acknowledged row {} is neither stored, pending nor quarantined after {:?}",
                id,
                after
            );
        }
        Ok(())
    }

    /// The disk freed, a restart, ClickHouse well: everything lands.
    async fn heal(&mut self) -> Result<(), TestCaseError> {
        self.run(&Step::DiskFree).await;
        self.stop(false).await;
        self.table.script.lock().expect("script").clear();
        self.start();
        self.script(&[Insert::Land; 2000]);
        let mut settled = false;
        // Up to 20 s on a loaded machine; usually a few milliseconds.
        for _ in 0..2000 {
            let stored = self.table.stored();
            let quarantined = self.quarantined();
            if self
                .acked
                .iter()
                .all(|id| stored.contains_key(id) || quarantined.contains_key(id))
            {
                settled = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let stored = self.table.stored();
        let quarantined = self.quarantined();
        let lost: Vec<&u64> = self
            .acked
            .iter()
            .filter(|id| !stored.contains_key(id) && !quarantined.contains_key(id))
            .collect();
        prop_assert!(settled, "acknowledged rows never stored: {:?}", lost);
        prop_assert!(stored.values().all(|n| *n == 1), "a row stored twice");
        self.stop(true).await;
        Ok(())
    }
}

#[test]
fn acknowledged_rows_are_stored_once_or_still_pending() {
    let mount = std::env::temp_dir().join(format!("spool-model-{}", std::process::id()));
    let disk = Arc::new(SmallDisk::mount(&mount, "4m"));
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let case = std::sync::atomic::AtomicU64::new(0);
    let strategy = (fsync(), proptest::collection::vec(step(), 1..30));
    let outcome = runner.run(&strategy, |(fsync, steps)| {
        let case = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let outcome = runtime.block_on(async {
            let mut harness = Harness::new(Arc::clone(&disk), case, fsync).await;
            for step in &steps {
                harness.run(step).await;
                harness.check(step)?;
            }
            harness.heal().await
        });
        runtime.shutdown_timeout(Duration::from_secs(1));
        let _ = std::fs::remove_file(disk.dir.join("ballast"));
        let _ = std::fs::remove_dir_all(disk.dir.join(format!("case-{case}")));
        outcome
    });
    drop(disk);
    let _ = std::fs::remove_dir(&mount);
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}
