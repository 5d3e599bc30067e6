//! The HTTP contract beyond hits: CORS preflight, health, metrics.

mod common;

use common::{browser_request, send, serve, test_collector};

#[tokio::test]
async fn preflight_allows_registered_origins_only() {
    let t = test_collector();
    let (addr, _stop) = serve(t.collector.clone()).await;
    let preflight = |origin: &'static str| {
        browser_request(
            "OPTIONS",
            "/api/event",
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
            ],
            b"",
        )
    };
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
