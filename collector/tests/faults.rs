//! Faults under load, against a local ClickHouse of each test's own: an
//! outage, refused data, a full disk. Nothing accepted is lost or doubled.

mod common;

use common::{Load, assert_exactly_once, browser_request, send, start_with_spool, wait_for_rows};
use mesure_testkit::http::metric;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_60_second_clickhouse_outage_loses_nothing() {
    let (dir, mut clickhouse, client) = common::private_database("outage").await;
    let running = start_with_spool(client.clone(), &dir.join("spool")).await;
    let load = Load::start(running.addr, 100);

    tokio::time::sleep(Duration::from_secs(3)).await;
    clickhouse.kill();
    tokio::time::sleep(Duration::from_secs(60)).await;
    let during = send(running.addr, browser_request("GET", "/readyz", &[], b"")).await;
    assert_eq!(during.status, 503, "not ready while ClickHouse is down");
    clickhouse.restart();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let report = load.stop();
    assert!(report.accepted.len() > 5000, "{report:?}");
    assert!(
        report.refused.is_empty(),
        "hits refused during the outage: {:?}",
        report.refused
    );

    let stored = wait_for_rows(
        &client,
        report.accepted.len() as u64,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(stored, report.accepted.len() as u64);
    let replays = metric(running.addr, "mesure_spool_replays_total").await;
    assert!(replays > 0, "batches were replayed after the outage");
    running.stop().await;
    assert_exactly_once(&client, &report.accepted).await;
    let visits: u64 = client
        .query("SELECT sum(pageviews) FROM sessions")
        .fetch_one()
        .await
        .expect("sessions");
    assert_eq!(
        visits,
        report.accepted.len() as u64,
        "the session rollup counts each hit once"
    );
}

#[tokio::test]
async fn refused_data_is_quarantined_and_the_rest_flows() {
    let (dir, _clickhouse, client) = common::private_database("quarantine").await;
    // ClickHouse refuses this one page as wrong data.
    client
        .query("ALTER TABLE events ADD CONSTRAINT no_poison CHECK path != '/poison'")
        .execute()
        .await
        .expect("constraint");
    let running = start_with_spool(client.clone(), &dir.join("spool")).await;
    let beacon = common::beacon;
    assert_eq!(send(running.addr, beacon("/before")).await.status, 202);
    assert_eq!(wait_for_rows(&client, 1, Duration::from_secs(20)).await, 1);
    assert_eq!(send(running.addr, beacon("/poison")).await.status, 202);
    let quarantine = dir
        .join("spool")
        .join(mesure_collector::spool::QUARANTINE_DIR);
    for _ in 0..100 {
        if quarantine.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for i in 0..20 {
        assert_eq!(
            send(running.addr, beacon(&format!("/after/{i}")))
                .await
                .status,
            202
        );
    }
    assert_eq!(
        wait_for_rows(&client, 21, Duration::from_secs(20)).await,
        21
    );
    assert_eq!(
        metric(running.addr, "mesure_quarantined_batches_total").await,
        1
    );
    assert_eq!(
        metric(running.addr, "mesure_insert_errors_total{kind=\"data\"}").await,
        1
    );
    running.stop().await;
    let files: Vec<_> = std::fs::read_dir(&quarantine)
        .expect("quarantine")
        .collect();
    assert_eq!(files.len(), 1);
    // The refused row, as RowBinary: the path is a length byte then its text.
    let path = files[0].as_ref().expect("entry").path();
    assert_eq!(path.extension().and_then(|e| e.to_str()), Some("rowbinary"));
    let kept = std::fs::read(&path).expect("read");
    assert!(kept.windows(8).any(|w| w == b"\x07/poison"), "{kept:?}");

    // The quarantine takes room on the spool's disk: it counts in the
    // spool's size (and so in spool.max_bytes), from the next start too.
    let running = start_with_spool(client.clone(), &dir.join("spool")).await;
    let segments = || {
        std::fs::read_dir(dir.join("spool"))
            .expect("spool")
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "seg"))
            .count()
    };
    for _ in 0..100 {
        if segments() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(segments(), 0, "every shipped segment is deleted");
    assert_eq!(
        metric(running.addr, "mesure_spool_bytes").await,
        kept.len() as u64,
        "the spool's size is its quarantine's"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_disk_sheds_hits_without_crashing() {
    let (dir, mut clickhouse, client) = common::private_database("diskfull").await;
    let spool = dir.join("spool");
    let _mount = mesure_testkit::disk::SmallDisk::mount(&spool, "256k");
    let running = common::start_with(client.clone(), &spool, |s| {
        s.spool.segment_bytes = 64 * 1024;
    })
    .await;
    clickhouse.kill();
    let load = Load::start(running.addr, 200);
    // Until writes fail for want of space.
    let mut shed = false;
    for _ in 0..300 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if metric(running.addr, "mesure_spool_write_errors_total").await > 0 {
            shed = true;
            break;
        }
    }
    assert!(shed, "the spool never filled the disk");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let health = send(running.addr, browser_request("GET", "/healthz", &[], b"")).await;
    assert_eq!(health.status, 200, "still alive with a full disk");
    // ClickHouse back: the spool drains, space frees up, hits are accepted again.
    clickhouse.restart();
    tokio::time::sleep(Duration::from_secs(15)).await;
    let report = load.stop();
    assert!(
        report.refused.get(&503).copied().unwrap_or(0) > 0,
        "hits were shed: {:?}",
        report.refused
    );
    assert!(
        report.refused.keys().all(|s| *s == 503),
        "only 503 while shedding: {:?}",
        report.refused
    );
    let last = *report.accepted.last().expect("accepted hits");
    // Ids are sent in order: the last ones must have been accepted again.
    let sent = report.accepted.len() as u64 + report.refused.values().sum::<u64>();
    assert!(
        last + 20 >= sent,
        "accepting again after the disk drained: last accepted {last} of {sent}"
    );
    wait_for_rows(
        &client,
        report.accepted.len() as u64,
        Duration::from_secs(60),
    )
    .await;
    running.stop().await;
    assert_exactly_once(&client, &report.accepted).await;
}

#[tokio::test]
async fn a_full_spool_sheds_load_explicitly() {
    let (dir, mut clickhouse, client) = common::private_database("shed").await;
    let running = common::start_with(client.clone(), &dir.join("spool"), |s| {
        s.spool.max_bytes = 64 * 1024;
        s.spool.segment_bytes = 64 * 1024;
    })
    .await;
    clickhouse.kill();
    let beacon = |i: u32| common::beacon(&format!("/full/{i}"));
    let mut accepted = 0;
    let mut shed = None;
    for i in 0..2000 {
        let answer = send(running.addr, beacon(i)).await;
        match answer.status {
            202 => accepted += 1,
            503 => {
                shed = Some(answer);
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    let shed = shed.expect("the spool filled up");
    assert!(accepted > 10, "{accepted}");
    common::assert_asked_to_retry(&shed, "overloaded");
    // Pixels still get their GIF (a smaller record may still fit at first).
    for _ in 0..20 {
        let pixel = send(running.addr, common::home_pixel()).await;
        assert_eq!(pixel.status, 200);
        assert_eq!(pixel.body, mesure_collector::server::GIF);
    }
    let shed_count = metric(
        running.addr,
        "mesure_hits_dropped_total{reason=\"overloaded\"}",
    )
    .await;
    assert!(shed_count >= 10, "{shed_count}");
    // Pixels that fitted were accepted too: the collector's count covers both.
    let accepted = metric(running.addr, "mesure_hits_accepted_total").await;
    let size = metric(running.addr, "mesure_spool_bytes").await;
    assert!(size > 0 && size <= 64 * 1024, "{size}");
    // ClickHouse back: every accepted hit lands.
    clickhouse.restart();
    assert_eq!(
        wait_for_rows(&client, accepted, Duration::from_secs(60)).await,
        accepted
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_during_an_outage_keeps_the_rows_for_the_next_start() {
    let (dir, mut clickhouse, client) = common::private_database("stop-outage").await;
    let spool = dir.join("spool");
    let grace =
        |s: &mut mesure_collector::service::Settings| s.collector.shutdown_grace_seconds = 2;
    let running = common::start_with(client.clone(), &spool, grace).await;
    clickhouse.kill();
    let load = Load::start(running.addr, 100);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let report = load.stop();
    assert!(report.accepted.len() > 100, "{report:?}");
    // ClickHouse is down: the stop must not wait for it beyond the grace period.
    let started = std::time::Instant::now();
    running.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "stopping took {:?}",
        started.elapsed()
    );

    clickhouse.restart();
    let running = common::start_with(client.clone(), &spool, grace).await;
    wait_for_rows(
        &client,
        report.accepted.len() as u64,
        Duration::from_secs(60),
    )
    .await;
    running.stop().await;
    assert_exactly_once(&client, &report.accepted).await;
}
