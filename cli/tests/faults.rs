//! The collector process killed with SIGKILL under load, then restarted:
//! every hit it acknowledged ends in ClickHouse exactly once. And restarted
//! twice with no traffic between: hits acknowledged after are shipped.

use mesure_collector::sites::{self, SiteRow};
use mesure_schema::{Migrator, Retention, Target};
use mesure_testkit::LocalClickHouse;
use mesure_testkit::http::{
    Load, assert_exactly_once, browser_request, try_request, wait_for_rows,
};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Collector {
    child: Child,
    addr: SocketAddr,
}

/// A failed test leaves no collector behind.
impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(db: &str, addr: SocketAddr, spool: &std::path::Path, fsync: &str) -> Collector {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mesure"))
        .arg("collector")
        .env_clear()
        .env("MESURE_LOG", "warn")
        .env("MESURE_CLICKHOUSE_URL", LocalClickHouse::shared().url())
        .env("MESURE_CLICKHOUSE_DATABASE", db)
        .env("MESURE_COLLECTOR_LISTEN", addr.to_string())
        .env("MESURE_COLLECTOR_TRUSTED_PROXIES", "127.0.0.0/8")
        .env("MESURE_COLLECTOR_BATCH_DELAY_MS", "100")
        .env("MESURE_COLLECTOR_SITES_REFRESH_SECONDS", "1")
        .env("MESURE_SPOOL_DIR", spool)
        .env("MESURE_SPOOL_FSYNC", fsync)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the collector");
    for _ in 0..300 {
        let ready = try_request(addr, &browser_request("GET", "/readyz", &[], b""));
        if ready.is_some_and(|a| a.status == 200) {
            return Collector { child, addr };
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the collector did not become ready");
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

async fn killed_under_load(fsync: &str) {
    let (db, client) = migrated("sigkill").await;
    let spool = std::env::temp_dir().join(&db);
    let addr = Arc::new(Mutex::new(free_addr()));
    let mut collector = spawn(&db, *addr.lock().expect("addr"), &spool, fsync);

    let target = Arc::clone(&addr);
    let load = Load::start_at(move || *target.lock().expect("addr"), 300);
    tokio::time::sleep(Duration::from_secs(3)).await;
    collector.child.kill().expect("SIGKILL");
    collector.child.wait().expect("reaped");
    // Same spool, new port: the hits acknowledged before the kill are shipped from it.
    let next = free_addr();
    *addr.lock().expect("addr") = next;
    let collector = spawn(&db, next, &spool, fsync);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let report = load.stop();
    assert!(report.accepted.len() > 1000, "{report:?}");

    // SIGTERM: a clean stop that ships what is left.
    terminate(collector);
    wait_for_rows(
        &client,
        report.accepted.len() as u64,
        Duration::from_secs(30),
    )
    .await;
    assert_exactly_once(&client, &report.accepted).await;
}

/// Stops the collector as an operator does (SIGTERM), and waits.
fn terminate(mut collector: Collector) {
    let _ = Command::new("kill")
        .arg(collector.child.id().to_string())
        .status();
    let status = collector.child.wait().expect("stopped");
    assert!(status.success(), "{status}");
}

async fn migrated(prefix: &str) -> (String, clickhouse::Client) {
    let db = LocalClickHouse::unique_database(prefix);
    Migrator::new(
        LocalClickHouse::shared().client(),
        Target::new(&db, None).expect("target"),
        Retention::DEFAULT,
    )
    .migrate()
    .await
    .expect("migrate");
    let client = LocalClickHouse::shared().client().with_database(&db);
    sites::put(
        &client,
        SiteRow::new("prefecture", &["www.prefecture.gouv.fr"]),
    )
    .await
    .expect("site");
    (db, client)
}

/// Sends `count` beacons with ids from `first`; returns the ids accepted.
fn beacons(addr: SocketAddr, first: u64, count: u64) -> Vec<u64> {
    (first..first + count)
        .filter(|id| {
            let body =
                format!(r#"{{"s":"prefecture","u":"https://www.prefecture.gouv.fr/h/{id}"}}"#);
            let request = browser_request(
                "POST",
                "/api/event",
                &[("Content-Type", "application/json")],
                body.as_bytes(),
            );
            try_request(addr, &request).is_some_and(|a| a.status == 202)
        })
        .collect()
}

fn segments_left(spool: &std::path::Path) -> usize {
    std::fs::read_dir(spool).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "seg"))
            .count()
    })
}

/// The spool once took its next segment number from the segment files
/// alone: after a restart had shipped and deleted the last one, a second
/// restart started again at segment 0, below the saved cursor, and every
/// hit acknowledged from then on was never shipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hits_after_two_restarts_without_traffic_are_shipped() {
    let (db, client) = migrated("restarts").await;
    let spool = std::env::temp_dir().join(&db);
    let collector = spawn(&db, free_addr(), &spool, "interval");
    let addr = collector.addr;
    let mut accepted = beacons(addr, 1, 50);
    assert_eq!(accepted.len(), 50);
    assert_eq!(
        wait_for_rows(&client, 50, Duration::from_secs(30)).await,
        50
    );
    terminate(collector);

    // A restart without traffic ships the last segment to its end and
    // deletes it: nothing is left on disk but the state.
    let collector = spawn(&db, free_addr(), &spool, "interval");
    for _ in 0..100 {
        if segments_left(&spool) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(segments_left(&spool), 0, "the shipped segment is deleted");
    terminate(collector);

    let collector = spawn(&db, free_addr(), &spool, "interval");
    let addr = collector.addr;
    let after = beacons(addr, 1000, 50);
    assert_eq!(after.len(), 50);
    accepted.extend(after);
    let stored = wait_for_rows(&client, 100, Duration::from_secs(30)).await;
    terminate(collector);
    assert_eq!(stored, 100, "rows in ClickHouse = hits acknowledged");
    assert_exactly_once(&client, &accepted).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_fsync_always_loses_nothing_accepted() {
    killed_under_load("always").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_the_default_fsync_loses_nothing_accepted_either() {
    // A kill is not a power cut: acknowledged rows are in the kernel's cache.
    killed_under_load("interval").await;
}
