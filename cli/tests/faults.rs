//! The collector process killed with SIGKILL under load, then restarted:
//! every hit it acknowledged ends in ClickHouse exactly once.

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
            return Collector { child };
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
    let db = LocalClickHouse::unique_database("sigkill");
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
    let mut collector = spawn(&db, next, &spool, fsync);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let report = load.stop();
    assert!(report.accepted.len() > 1000, "{report:?}");

    // SIGTERM: a clean stop that ships what is left.
    let _ = Command::new("kill")
        .arg(collector.child.id().to_string())
        .status();
    let status = collector.child.wait().expect("stopped");
    assert!(status.success(), "{status}");
    wait_for_rows(
        &client,
        report.accepted.len() as u64,
        Duration::from_secs(30),
    )
    .await;
    assert_exactly_once(&client, &report.accepted).await;
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
