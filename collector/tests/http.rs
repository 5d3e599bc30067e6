//! The HTTP contract beyond hits: CORS preflight, health, metrics.

mod common;

use common::{browser_request, send, serve, test_collector, test_collector_with};
use mesure_collector::server::Limits;
use std::io::Write;
use std::time::{Duration, Instant};

#[tokio::test]
async fn preflight_allows_registered_origins_only() {
    let t = test_collector();
    let (addr, _stop) = serve(t.collector.clone()).await;
    let preflight = common::preflight;
    for origin in [
        "https://www.prefecture.gouv.fr",
        "https://quartier.ville.fr",
    ] {
        let answer = send(addr, preflight(origin)).await;
        assert_eq!(answer.status, 204, "{origin}");
        assert_eq!(
            answer.header("access-control-allow-origin").as_deref(),
            Some(origin)
        );
        assert_eq!(
            answer.header("access-control-allow-methods").as_deref(),
            Some("POST")
        );
        assert!(answer.header("access-control-allow-credentials").is_none());
    }
    for origin in [
        "https://evil.example",
        "https://prefecture.gouv.fr.evil.example",
        "null",
    ] {
        let answer = send(addr, preflight(origin)).await;
        assert_eq!(answer.status, 204, "{origin}");
        assert!(
            answer.header("access-control-allow-origin").is_none(),
            "{origin}"
        );
    }
}

#[tokio::test]
async fn health_ready_and_metrics() {
    let t = test_collector();
    let (addr, _stop) = serve(t.collector.clone()).await;
    let health = send(addr, browser_request("GET", "/healthz", &[], b"")).await;
    assert_eq!((health.status, health.body.as_slice()), (200, &b"ok\n"[..]));
    let ready = send(addr, browser_request("GET", "/readyz", &[], b"")).await;
    assert_eq!(ready.status, 200, "{}", ready.json());
    assert_eq!(ready.json()["checks"]["salt"], true);
    let metrics = send(addr, browser_request("GET", "/metrics", &[], b"")).await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/plain; version=0.0.4"))
    );
    let text = String::from_utf8(metrics.body).expect("text");
    for name in [
        "mesure_hits_received_total",
        "mesure_hits_accepted_total",
        "mesure_hits_dropped_total",
        "mesure_queue_rows",
        "mesure_batch_rows",
        "mesure_batch_bytes",
        "mesure_insert_duration_seconds",
        "mesure_insert_errors_total",
        "mesure_salt_age_seconds",
        "mesure_geoip_database_age_seconds",
    ] {
        assert!(text.contains(&format!("# TYPE {name} ")), "{name} missing");
    }
    assert!(!text.contains("193.50"), "no visitor data in metrics");
    let head = send(
        addr,
        browser_request("HEAD", "/p.gif?s=prefecture", &[], b""),
    )
    .await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type").as_deref(), Some("image/gif"));
    assert!(t.sink.take().is_empty(), "a HEAD is not a view");
}

#[tokio::test]
async fn slow_clients_cannot_exhaust_the_server() {
    let limits = Limits {
        max_connections: 4,
        read_timeout: Duration::from_millis(500),
    };
    let t = test_collector_with(limits);
    let (addr, _stop) = serve(t.collector.clone()).await;
    // Every slot taken by a client that never finishes its headers.
    let slow: Vec<std::net::TcpStream> = (0..4)
        .map(|_| {
            let mut stream = std::net::TcpStream::connect(addr).expect("connect");
            stream
                .write_all(b"GET /p.gif?s=prefecture HTTP/1.1\r\nHost: x\r\n")
                .expect("write");
            stream
        })
        .collect();
    let started = Instant::now();
    let answer = send(addr, browser_request("GET", "/healthz", &[], b"")).await;
    assert_eq!(answer.status, 200, "served once the slow clients timed out");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(slow);
    // A body that never comes: 408 with a JSON error.
    let answer = send(
        addr,
        b"POST /api/event HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"s\":".to_vec(),
    )
    .await;
    assert_eq!(answer.status, 408);
    assert_eq!(answer.json()["error"], "timeout");
    assert!(t.sink.take().is_empty());
}
