//! Shared by the collector's integration tests: an in-process collector with
//! fixed time and salt, and a raw HTTP/1.1 client.
#![allow(dead_code)] // each test file uses a part

use clickhouse::Client;
use mesure_collector::clock::FixedClock;
use mesure_collector::config::{CollectorConfig, GeoConfig};
use mesure_collector::delivery::{MemorySink, Sink};
use mesure_collector::metrics::Metrics;
use mesure_collector::pipeline::Pipeline;
use mesure_collector::pipeline::agent::Agents;
use mesure_collector::pipeline::geo::{Geo, LiveGeo};
use mesure_collector::pipeline::network::Network;
use mesure_collector::pipeline::referrer::Referrers;
use mesure_collector::pipeline::session::Sessions;
use mesure_collector::pipeline::visitor::SaltSource;
use mesure_collector::server::{Collector, Health, Limits};
use mesure_collector::service::{Settings, run};
use mesure_collector::sites;
use mesure_collector::sites::{Mode, Registry, Site, SiteIndex, SiteRow};
use mesure_collector::spool::SpoolConfig;
use mesure_schema::{Migrator, Retention, Target};
pub use mesure_testkit::http::*;
use mesure_testkit::{LocalClickHouse, geoip_dir};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mesure_testkit::clock::fixed_ms;
pub const SALT: [u8; 16] = *b"fixed-test-salt!";

/// Sites of the tests: an exempt prefecture (under both forms of its
/// domain), a consent-mode city (all its subdomains), and two sites
/// registered under one form of their domain only.
pub fn sites() -> Vec<SiteRow> {
    let mut prefecture = SiteRow::new(
        "prefecture",
        &["www.prefecture.gouv.fr", "prefecture.gouv.fr"],
    );
    prefecture.allowed_params = vec!["page".into()];
    prefecture.allowed_events = vec!["Inscription".into(), "Formulaire / Inscription".into()];
    prefecture.matomo_id = Some(3);
    let mut ville = SiteRow::new("ville", &["*.ville.fr"]);
    ville.mode = Mode::Consent;
    ville.city = false;
    let mairie = SiteRow::new("mairie", &["www.mairie.fr"]);
    let commune = SiteRow::new("commune", &["commune.fr"]);
    vec![prefecture, ville, mairie, commune]
}

pub fn index(rows: &[SiteRow]) -> SiteIndex {
    SiteIndex::new(rows.iter().map(|r| Site::from_row(r).expect("valid site")))
}

pub struct TestCollector {
    pub collector: Arc<Collector>,
    pub sink: Arc<MemorySink>,
    pub clock: Arc<FixedClock>,
}

/// A collector over `sink`, which counts into `metrics`.
pub fn collector_with(
    sink: Arc<dyn Sink>,
    metrics: Metrics,
    salts: Arc<dyn SaltSource>,
    clock: Arc<FixedClock>,
) -> Collector {
    let geo = Geo::open(&[geoip_dir().join("GeoLite2-City.mmdb")], 1000).expect("GeoIP");
    let pipeline = Pipeline {
        registry: Arc::new(Registry::new(index(&sites()))),
        agents: Arc::new(Agents::new(1000).expect("agents")),
        geo: Arc::new(LiveGeo::fixed(geo)),
        referrers: Arc::new(Referrers::new().expect("referrers")),
        salts,
        sessions: Arc::new(Sessions::new(30, 10_000)),
        network: Network::new(
            vec!["127.0.0.0/8".parse().expect("net")],
            Default::default(),
            24,
            48,
        )
        .expect("network"),
        clock: clock as _,
        honor_signals: true,
    };
    let health = Health::default();
    health
        .clickhouse
        .store(true, std::sync::atomic::Ordering::Relaxed);
    Collector {
        pipeline,
        sink,
        metrics,
        health: Arc::new(health),
        limits: Limits::default(),
        retention_months: 6,
    }
}

/// A different fixed salt every day, as the real rotation gives; counted
/// from the day of the collector's first instant, so that a replay gives the
/// same visitor ids whatever date it pretends to run on.
#[derive(Debug)]
pub struct DailySalt {
    pub first_day: i64,
}

impl SaltSource for DailySalt {
    fn salt(&self, day: i64) -> Option<[u8; 16]> {
        let mut salt = SALT;
        for (byte, d) in salt.iter_mut().zip((day - self.first_day).to_le_bytes()) {
            *byte ^= d;
        }
        Some(salt)
    }
}

/// A collector with an in-memory sink at the tests' fixed instant: its rows
/// never reach an engine.
pub fn test_collector() -> TestCollector {
    test_collector_at(fixed_ms(), Limits::default())
}

pub fn test_collector_with(limits: Limits) -> TestCollector {
    test_collector_at(fixed_ms(), limits)
}

/// A collector whose clock starts at `now_ms`: `today_at` for rows that
/// are then inserted into a real ClickHouse.
pub fn test_collector_at(now_ms: i64, limits: Limits) -> TestCollector {
    let metrics = Metrics::new();
    let sink = Arc::new(MemorySink::new(metrics.clone()));
    let clock = Arc::new(FixedClock::new(now_ms));
    let first_day = mesure_collector::pipeline::visitor::utc_day(now_ms);
    let mut collector = collector_with(
        Arc::clone(&sink) as _,
        metrics,
        Arc::new(DailySalt { first_day }),
        Arc::clone(&clock),
    );
    collector.limits = limits;
    TestCollector {
        collector: Arc::new(collector),
        sink,
        clock,
    }
}

/// Serves the collector on a free loopback port until the returned sender is dropped.
pub async fn serve(collector: Arc<Collector>) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(mesure_collector::service::serve(
        listener,
        collector,
        async {
            let _ = stopped.await;
        },
    ));
    (addr, stop)
}

/// A migrated database with the test sites, on the shared local ClickHouse.
pub async fn prepared_database(prefix: &str) -> (String, Client) {
    let db = LocalClickHouse::unique_database(prefix);
    let client = prepared_database_on(LocalClickHouse::shared().client(), &db).await;
    (db, client)
}

/// A local ClickHouse of the test's own (that it may stop and start again),
/// in a new directory, with a migrated database: the directory, the server
/// and a client bound to the database.
pub async fn private_database(
    prefix: &str,
) -> (
    std::path::PathBuf,
    mesure_testkit::PrivateClickHouse,
    Client,
) {
    let dir = temp_dir(prefix);
    let clickhouse = mesure_testkit::PrivateClickHouse::start(&dir.join("clickhouse"));
    let client = prepared_database_on(clickhouse.client(), "mesure").await;
    (dir, clickhouse, client)
}

/// A migrated database with the test sites on `server`; the client is bound to it.
pub async fn prepared_database_on(server: Client, db: &str) -> Client {
    Migrator::new(
        server.clone(),
        Target::new(db, None).expect("target"),
        Retention::DEFAULT,
    )
    .migrate()
    .await
    .expect("migrate");
    let client = server.with_database(db);
    for site in sites() {
        sites::put(&client, site).await.expect("put site");
    }
    client
}

pub struct Running {
    pub addr: SocketAddr,
    pub spool: std::path::PathBuf,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops the collector; it flushes what is queued before returning.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(60), self.task)
            .await
            .expect("the collector stops in time")
            .expect("collector task");
    }
}

/// A new spool directory under the system's temporary directory.
pub fn temp_dir(prefix: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(LocalClickHouse::unique_database(prefix));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

pub async fn start(client: Client) -> Running {
    start_with_spool(client, &temp_dir("spool")).await
}

pub async fn start_with_spool(client: Client, spool_dir: &std::path::Path) -> Running {
    start_with(client, spool_dir, |_| {}).await
}

/// Starts a collector and waits until it is ready (ClickHouse, the sites
/// and the salt known).
pub async fn start_with(
    client: Client,
    spool_dir: &std::path::Path,
    edit: impl FnOnce(&mut Settings),
) -> Running {
    let running = launch(client, spool_dir, edit).await;
    let mut last = None;
    for _ in 0..200 {
        let answer = send(running.addr, browser_request("GET", "/readyz", &[], b"")).await;
        if answer.status == 200 {
            return running;
        }
        last = Some(answer.json());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the collector never became ready: {last:?}");
}

/// Starts a collector, without waiting for it to be ready.
pub async fn launch(
    client: Client,
    spool_dir: &std::path::Path,
    edit: impl FnOnce(&mut Settings),
) -> Running {
    let collector = CollectorConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        trusted_proxies: vec!["127.0.0.0/8".parse().expect("net")],
        batch_delay_ms: 100,
        sites_refresh_seconds: 1,
        ..CollectorConfig::default()
    };
    let mut settings = Settings {
        client,
        timeouts: Default::default(),
        collector,
        geoip: GeoConfig {
            databases: vec![geoip_dir().join("GeoLite2-City.mmdb")],
            cache: None,
        },
        spool: SpoolConfig {
            dir: spool_dir.to_path_buf(),
            ..SpoolConfig::default()
        },
        retention_months: 6,
    };
    edit(&mut settings);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (bound, addr) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        run(
            settings,
            async {
                let _ = stopped.await;
            },
            move |a| {
                let _ = bound.send(a);
            },
        )
        .await
        .expect("collector runs");
    });
    let addr = addr.await.expect("collector started");
    // The collector maps its GeoIP copies; unlinked, they stay readable and
    // free their 66 MB when it ends, which a test process may not wait for.
    let _ = std::fs::remove_dir_all(spool_dir.join(mesure_collector::service::GEOIP_COPIES));
    Running {
        addr,
        spool: spool_dir.to_path_buf(),
        stop,
        task,
    }
}

/// A CORS preflight for the event API from `origin`.
pub fn preflight(origin: &str) -> Vec<u8> {
    browser_request(
        "OPTIONS",
        "/api/event",
        &[
            ("Origin", origin),
            ("Access-Control-Request-Method", "POST"),
        ],
        b"",
    )
}

/// The pixel of the prefecture's home page.
pub fn home_pixel() -> Vec<u8> {
    browser_request(
        "GET",
        "/p.gif?s=prefecture&u=https%3A%2F%2Fwww.prefecture.gouv.fr%2F",
        &[],
        b"",
    )
}

/// A refusal for a passing cause: `503`, `Retry-After: 1`, the reason.
pub fn assert_asked_to_retry(answer: &Answer, reason: &str) {
    assert_eq!(
        answer.status,
        503,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.header("retry-after").as_deref(), Some("1"));
    assert_eq!(answer.json()["error"], reason);
}

/// A beacon for one page of the prefecture's site.
pub fn beacon(path: &str) -> Vec<u8> {
    browser_request(
        "POST",
        "/api/event",
        &[("Content-Type", "application/json")],
        format!(r#"{{"s":"prefecture","u":"https://www.prefecture.gouv.fr{path}"}}"#).as_bytes(),
    )
}

pub async fn pixel(addr: SocketAddr, query: &str, client_ip: &str) -> Answer {
    let answer = send(
        addr,
        browser_request(
            "GET",
            &format!("/p.gif?{query}"),
            &[("X-Forwarded-For", client_ip)],
            b"",
        ),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, mesure_collector::server::GIF);
    // Distinct milliseconds keep entry and exit pages unambiguous.
    tokio::time::sleep(Duration::from_millis(3)).await;
    answer
}
