//! ClickHouse away when the collector starts, or answering nothing: the
//! collector starts from what its spool's directory remembers (the sites,
//! the salts), refuses for a temporary cause (`503`) what it cannot judge,
//! gives up on a stalled server after its timeouts and says so.

mod common;

use common::{
    assert_exactly_once, beacon, browser_request, launch, prepared_database, send,
    start_with_spool, temp_dir, wait_for_rows,
};
use mesure_collector::delivery::Timeouts;
use mesure_testkit::http::metric;
use std::time::Duration;

fn short() -> Timeouts {
    Timeouts {
        connect: Duration::from_millis(500),
        send: Duration::from_millis(500),
        receive: Duration::from_millis(500),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn ids(range: std::ops::Range<u64>) -> Vec<u64> {
    range.collect()
}

/// Before, a collector that had never reached ClickHouse answered `404
/// unknown_site` to every hit: a permanent refusal for a passing cause.
#[tokio::test]
async fn started_with_clickhouse_down_and_nothing_known_it_asks_to_retry() {
    let nowhere = clickhouse::Client::default()
        .with_url(format!("http://127.0.0.1:{}", free_port()))
        .with_database("mesure");
    let running = launch(nowhere, &temp_dir("nothing-known"), |s| {
        s.timeouts = short()
    })
    .await;
    let answer = send(running.addr, beacon("/a")).await;
    common::assert_asked_to_retry(&answer, "no_registry");
    let pixel = send(running.addr, common::home_pixel()).await;
    assert_eq!(pixel.status, 200, "the pixel still answers its GIF");
    assert_eq!(
        metric(
            running.addr,
            "mesure_hits_dropped_total{reason=\"no_registry\"}"
        )
        .await,
        2
    );
    let ready = send(running.addr, browser_request("GET", "/readyz", &[], b"")).await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json()["checks"]["sites"], false);
    running.stop().await;
}

/// Before, a collector restarted during an outage knew no site and no salt:
/// every hit was refused until ClickHouse came back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_during_an_outage_serves_the_sites_and_salts_it_knew() {
    let (dir, mut clickhouse, client) = common::private_database("restart-outage").await;
    let spool = dir.join("spool");
    let running = start_with_spool(client.clone(), &spool).await;
    assert_eq!(send(running.addr, beacon("/h/0")).await.status, 202);
    assert_eq!(wait_for_rows(&client, 1, Duration::from_secs(20)).await, 1);
    running.stop().await;

    clickhouse.kill();
    let running = launch(client.clone(), &spool, |s| s.timeouts = short()).await;
    for id in 1..=20 {
        let answer = send(running.addr, beacon(&format!("/h/{id}"))).await;
        assert_eq!(
            answer.status,
            202,
            "accepted from the local copies: {}",
            String::from_utf8_lossy(&answer.body)
        );
    }
    clickhouse.restart();
    assert_eq!(
        wait_for_rows(&client, 21, Duration::from_secs(60)).await,
        21
    );
    running.stop().await;
    assert_exactly_once(&client, &ids(0..21)).await;
}

/// Before, nothing bounded a request to ClickHouse: a server that accepts
/// connections and then never answers hung the shipper and the readiness
/// ping for ever, and the collector could not stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clickhouse_that_accepts_and_never_answers_is_given_up_on() {
    let (_db, client) = prepared_database("stalled").await;
    let spool = temp_dir("stalled-spool");
    // A first run learns the sites and the salts.
    let running = start_with_spool(client.clone(), &spool).await;
    assert_eq!(send(running.addr, beacon("/h/0")).await.status, 202);
    assert_eq!(wait_for_rows(&client, 1, Duration::from_secs(20)).await, 1);
    running.stop().await;

    // Accepts every connection and never says a word.
    let stall = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let stall_addr = stall.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in stall.incoming().flatten() {
            held.push(stream);
        }
    });
    let stalled = clickhouse::Client::default()
        .with_url(format!("http://{stall_addr}"))
        .with_database("mesure");
    let running = launch(stalled, &spool, |s| {
        s.timeouts = short();
        s.collector.shutdown_grace_seconds = 1;
    })
    .await;
    for id in 1..=10 {
        assert_eq!(
            send(running.addr, beacon(&format!("/h/{id}"))).await.status,
            202
        );
    }
    let mut timeouts = (0, 0);
    for _ in 0..100 {
        timeouts = (
            metric(
                running.addr,
                "mesure_clickhouse_timeouts_total{operation=\"insert\"}",
            )
            .await,
            metric(
                running.addr,
                "mesure_clickhouse_timeouts_total{operation=\"ping\"}",
            )
            .await,
        );
        if timeouts.0 > 0 && timeouts.1 > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        timeouts.0 > 0 && timeouts.1 > 0,
        "inserts and pings time out: {timeouts:?}"
    );
    let ready = send(running.addr, browser_request("GET", "/readyz", &[], b"")).await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json()["checks"]["clickhouse"], false);
    let stopping = std::time::Instant::now();
    running.stop().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(15),
        "stopped in {:?}",
        stopping.elapsed()
    );

    // Back to the real server: what was spooled meanwhile lands, once.
    let running = start_with_spool(client.clone(), &spool).await;
    assert_eq!(
        wait_for_rows(&client, 11, Duration::from_secs(30)).await,
        11
    );
    running.stop().await;
    assert_exactly_once(&client, &ids(0..11)).await;
}
