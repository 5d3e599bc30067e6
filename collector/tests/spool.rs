//! The spool on disk, shipping to the local ClickHouse: torn tails after a
//! crash are skipped and counted; a batch that was being inserted at the
//! crash is resent with its token and stored once; two spools that ship the
//! same byte range are both stored.

mod common;

use common::{metric, prepared_database, temp_dir, wait_for_rows};
use mesure_collector::delivery::{BatchLimits, ClickHouseEvents};
use mesure_collector::metrics::Metrics;
use mesure_collector::row::EventRow;
use mesure_collector::spool::log::{encode, segment_path};
use mesure_collector::spool::{Position, Spool, SpoolConfig, State};
use std::time::Duration;

fn row(path: &str) -> EventRow {
    // The rows are inserted into a real ClickHouse: today, not a fixed date.
    static COLLECTOR: std::sync::LazyLock<common::TestCollector> = std::sync::LazyLock::new(|| {
        common::test_collector_at(mesure_testkit::clock::today_at(10, 0), Default::default())
    });
    let t = &*COLLECTOR;
    let hit = mesure_collector::wire::parse_pixel(&format!(
        "s=prefecture&u=https%3A%2F%2Fwww.prefecture.gouv.fr{path}"
    ))
    .expect("hit");
    let mut headers = http::HeaderMap::new();
    headers.insert("accept-language", "fr".parse().expect("value"));
    headers.insert(
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
            .parse()
            .expect("value"),
    );
    let request = mesure_collector::pipeline::Request {
        peer: [193, 50, 60, 1].into(),
        headers: &headers,
    };
    t.collector.pipeline.process(&hit, &request).expect("row")
}

fn records(paths: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for path in paths {
        encode(&row(path), &mut out);
    }
    out
}

/// Ships the spool in `dir` until `rows` are stored, then stops.
async fn ship(dir: &std::path::Path, client: clickhouse::Client, rows: u64) -> Metrics {
    let metrics = Metrics::new();
    let config = SpoolConfig {
        dir: dir.to_path_buf(),
        ..SpoolConfig::default()
    };
    let limits = BatchLimits {
        max_delay: Duration::from_millis(50),
        ..BatchLimits::default()
    };
    let destination = ClickHouseEvents {
        client: client.clone(),
        timeouts: Default::default(),
        metrics: metrics.clone(),
    };
    let spool = Spool::open(
        &config,
        destination,
        limits,
        metrics.clone(),
        Duration::from_secs(5),
    )
    .expect("open");
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let shipper = tokio::spawn(spool.shipper.run(stopping));
    assert_eq!(
        wait_for_rows(&client, rows, Duration::from_secs(30)).await,
        rows
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(spool.sink);
    let _ = stop.send(true);
    shipper.await.expect("shipper");
    metrics
}

#[tokio::test]
async fn a_torn_tail_is_skipped_and_counted() {
    let (_db, client) = prepared_database("torn").await;
    let dir = temp_dir("torn-spool");
    let mut first = records(&["/a", "/b", "/c"]);
    // A record cut short by a crash: its header promises more than is there.
    let torn = records(&["/torn"]);
    first.extend_from_slice(&torn[..torn.len() / 2]);
    std::fs::write(segment_path(&dir, 0), &first).expect("segment 0");
    std::fs::write(segment_path(&dir, 1), records(&["/d", "/e"])).expect("segment 1");
    // A flipped byte in a later record.
    let mut flipped = records(&["/f", "/g"]);
    let last = flipped.len() - 3;
    flipped[last] ^= 0x55;
    std::fs::write(segment_path(&dir, 2), &flipped).expect("segment 2");

    let metrics = ship(&dir, client.clone(), 6).await;
    let paths: Vec<String> = client
        .query("SELECT path FROM events ORDER BY path")
        .fetch_all()
        .await
        .expect("paths");
    assert_eq!(paths, ["/a", "/b", "/c", "/d", "/e", "/f"]);
    assert_eq!(metrics.spool_corrupt.get(), 2);
    // Shipped segments are deleted.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "seg"))
        .collect();
    assert!(left.len() <= 1, "{left:?}");
}

#[tokio::test]
async fn a_batch_cut_off_mid_insert_is_resent_and_stored_once() {
    let (_db, client) = prepared_database("pending").await;
    let dir = temp_dir("pending-spool");
    let bytes = records(&["/1", "/2", "/3", "/4"]);
    std::fs::write(segment_path(&dir, 0), &bytes).expect("segment");
    let end = Position {
        segment: 0,
        offset: bytes.len() as u64,
    };
    let token = "0123456789abcdef0123456789abcdef".to_owned();
    State {
        id: "0f".repeat(16),
        position: Position::default(),
        pending: Some((end, token.clone())),
    }
    .store(&dir)
    .expect("state");
    // The insert had landed before the crash.
    let mut insert = client
        .insert::<EventRow>("events")
        .await
        .expect("insert")
        .with_setting("insert_deduplication_token", token.as_str())
        .with_setting("deduplicate_blocks_in_dependent_materialized_views", "1");
    for path in ["/1", "/2", "/3", "/4"] {
        insert.write(&row(path)).await.expect("write");
    }
    insert.end().await.expect("end");

    let metrics = ship(&dir, client.clone(), 4).await;
    assert_eq!(metrics.spool_replays.get(), 1);
    let count: u64 = client
        .query("SELECT count() FROM events")
        .fetch_one()
        .await
        .expect("count");
    assert_eq!(count, 4, "the resent batch is deduplicated");
    let state = State::load(&dir).expect("state").expect("a state file");
    assert_eq!(state.pending, None);
    assert!(state.position >= end, "{state:?}");
}

/// Every spool starts at the same position: without the spool's identity in
/// the token, ClickHouse would take the second one's batch for a resend of
/// the first's and drop it.
#[tokio::test]
async fn two_spools_shipping_the_same_range_are_both_stored() {
    let (_db, client) = prepared_database("two_spools").await;
    let bytes = records(&["/same/1", "/same/2", "/same/3"]);
    let (first, second) = (temp_dir("first-spool"), temp_dir("second-spool"));
    for dir in [&first, &second] {
        std::fs::write(segment_path(dir, 0), &bytes).expect("segment");
    }
    ship(&first, client.clone(), 3).await;
    ship(&second, client.clone(), 6).await;
    let count: u64 = client
        .query("SELECT count() FROM events WHERE startsWith(path, '/same/')")
        .fetch_one()
        .await
        .expect("count");
    assert_eq!(count, 6, "both collectors' rows are stored");
}

/// Spools written by earlier versions, after an upgrade: the first kept
/// rows as JSON, the second `RowBinary` without the hit's number and gap.
/// Their rows are converted and stored like the others, every column
/// intact, the hit's number and gap unknown (0).
#[tokio::test]
async fn records_of_earlier_versions_are_still_shipped() {
    let (_db, client) = prepared_database("legacy").await;
    let dir = temp_dir("legacy-spool");
    let record = |magic: &[u8], payload: &[u8]| {
        let mut out = magic.to_vec();
        out.extend_from_slice(&u32::try_from(payload.len()).expect("len").to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        out.extend_from_slice(payload);
        out
    };
    let json = row("/json");
    let mut bytes = record(b"MSR1", &serde_json::to_vec(&json).expect("json"));
    let second = row("/second");
    let mut binary = Vec::new();
    second.write_row_binary(&mut binary);
    binary.truncate(binary.len() - 6);
    bytes.extend_from_slice(&record(b"MSR2", &binary));
    bytes.extend_from_slice(&records(&["/new"]));
    std::fs::write(segment_path(&dir, 0), &bytes).expect("segment");

    ship(&dir, client.clone(), 3).await;
    let stored: Vec<EventRow> = client
        .query("SELECT ?fields FROM events ORDER BY path")
        .fetch_all()
        .await
        .expect("rows");
    let unknown = |row: &EventRow| EventRow {
        hit: 0,
        gap_s: 0,
        ..row.clone()
    };
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[0], unknown(&json));
    assert_eq!(&*stored[1].path, "/new");
    assert!(stored[1].hit > 0, "a row of this version has its number");
    assert_eq!(stored[2], unknown(&second));
}

/// Before, with `fsync = "interval"` a sync came only with a later write:
/// after a burst, the last rows waited for the kernel's writeback, not for
/// the interval. A timer syncs them now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_end_of_a_burst_is_synced_within_the_interval() {
    let (_db, client) = prepared_database("fsync_timer").await;
    let running = common::start_with(client.clone(), &temp_dir("fsync-spool"), |s| {
        s.spool.fsync = mesure_collector::spool::Fsync::Interval;
        s.spool.fsync_interval_ms = 1000;
    })
    .await;
    let mut seen_unsynced = false;
    for i in 0..20 {
        let answer = common::send(running.addr, common::beacon(&format!("/burst/{i}"))).await;
        assert_eq!(answer.status, 202);
        seen_unsynced |= metric(running.addr, "mesure_spool_unsynced_bytes").await > 0;
    }
    assert!(seen_unsynced, "written rows wait for the sync thread");
    let synced = metric(running.addr, "mesure_spool_fsyncs_total").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        metric(running.addr, "mesure_spool_unsynced_bytes").await,
        0,
        "nothing written is left unsynced once the interval has passed"
    );
    assert!(metric(running.addr, "mesure_spool_fsyncs_total").await > synced);
    running.stop().await;
}

/// Before, a client that disconnected while its hit was being written
/// cancelled the handler after the row was handed over: the row was
/// stored, and counted neither as accepted nor as dropped.
#[tokio::test]
async fn a_hit_whose_client_leaves_while_it_is_written_is_still_counted() {
    let dir = temp_dir("cancelled-spool");
    let metrics = Metrics::new();
    let config = SpoolConfig {
        dir: dir.clone(),
        // Each write waits for the disk: the handler is surely waiting.
        fsync: mesure_collector::spool::Fsync::Always,
        ..SpoolConfig::default()
    };
    let (_db, client) = prepared_database("cancelled").await;
    let spool = Spool::open(
        &config,
        ClickHouseEvents {
            client,
            timeouts: Default::default(),
            metrics: metrics.clone(),
        },
        BatchLimits::default(),
        metrics.clone(),
        Duration::from_secs(1),
    )
    .expect("open");
    let collector = common::collector_with(
        std::sync::Arc::new(spool.sink.clone()),
        metrics.clone(),
        std::sync::Arc::new(common::DailySalt { first_day: 0 }),
        std::sync::Arc::new(mesure_collector::clock::FixedClock::new(
            mesure_testkit::clock::today_at(10, 0),
        )),
    );
    let request = http::Request::post("/api/event")
        .header("content-type", "application/json")
        .header("accept-language", "fr")
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        )
        .body(http_body_util::Full::new(bytes::Bytes::from_static(
            br#"{"s":"prefecture","u":"https://www.prefecture.gouv.fr/gone"}"#,
        )))
        .expect("request");
    // Polled once, then dropped: what hyper does when the client goes.
    let handled = tokio::time::timeout(
        Duration::ZERO,
        collector.handle(request, [193, 50, 60, 1].into()),
    )
    .await;
    assert!(
        handled.is_err(),
        "the handler was still waiting for the disk"
    );
    drop(spool.sink);
    drop(collector);
    tokio::task::spawn_blocking(move || spool.writer.join())
        .await
        .expect("join")
        .expect("the writer ends");
    let written: usize = mesure_collector::spool::log::segments(&dir)
        .expect("segments")
        .iter()
        .map(|s| {
            let mut reader = mesure_collector::spool::log::SegmentReader::open(
                &dir,
                Position {
                    segment: *s,
                    offset: 0,
                },
            )
            .expect("segment");
            let mut rows = 0;
            while let Ok(mesure_collector::spool::log::Next::Row) =
                reader.next(u64::MAX, &mut Vec::new())
            {
                rows += 1;
            }
            rows
        })
        .sum();
    assert_eq!(written, 1, "the row is in the spool");
    assert_eq!(metrics.hits_accepted.get(), 1, "and counted as accepted");
}
