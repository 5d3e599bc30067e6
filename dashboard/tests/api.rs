//! The stats API over a real socket: every refusal is a `4xx` naming what
//! is wrong, hostile values are refused or taken as data (never as SQL),
//! and the service's own routes answer.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;

fn base() -> Value {
    json!({"site_id": "paris", "date_range": "30d", "metrics": ["visitors"]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_queries_get_a_4xx_naming_the_problem() {
    let visits = generate(3, 5);
    let (_db, client) = database("api_errors", &visits).await;
    let dashboard = dashboard(client).await;
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"site_id": "inconnu.fr", "date_range": "7d", "metrics": ["visitors"]}),
            404,
            "unknown_site",
        ),
        (
            json!({"date_range": "7d", "metrics": ["visitors"]}),
            400,
            "site_id",
        ),
        (
            json!({"site_id": "paris", "metrics": ["visitors"]}),
            400,
            "date_range",
        ),
        (
            json!({"site_id": "paris", "date_range": "7d", "metrics": ["visitors"], "extra": 1}),
            400,
            "extra",
        ),
        (
            json!({"site_id": "paris", "date_range": "7d", "metrics": ["visitors; DROP TABLE events"]}),
            400,
            "unknown metric",
        ),
        (
            json!({"site_id": "paris", "date_range": "7d", "metrics": ["visitors"], "dimensions": ["visit:source') --"]}),
            400,
            "unknown dimension",
        ),
        (
            json!({"site_id": "paris", "date_range": ["2026-01-01", "1' OR '1'='1"], "metrics": ["visitors"]}),
            400,
            "date_range",
        ),
        (
            json!({"site_id": "paris", "date_range": ["2026-02-30", "2026-03-01"], "metrics": ["visitors"]}),
            400,
            "date_range",
        ),
        (
            json!({"site_id": "paris", "date_range": ["1900-01-01", "1900-01-02"], "metrics": ["visitors"]}),
            400,
            "date_range",
        ),
        (
            json!({"site_id": "paris", "date_range": ["2020-01-01", "2026-01-01"], "metrics": ["visitors"]}),
            400,
            "800 days",
        ),
        (
            json!({"site_id": "paris", "date_range": "7d", "metrics": ["visitors"], "pagination": {"limit": 1e20}}),
            400,
            "limit",
        ),
        (
            json!({"site_id": "paris", "date_range": "7d", "metrics": ["visitors"], "pagination": {"offset": "1"}}),
            400,
            "offset",
        ),
        (
            json!({"site_id": "paris", "date_range": "7d", "metrics": ["visitors"], "filters": [["is", "visit:country", [1]]]}),
            400,
            "strings",
        ),
        (
            json!({"site_id": "paris", "date_range": "7d", "metrics": ["visitors"], "filters": [["is", "visit:country", ["x".repeat(5000)]]]}),
            400,
            "2048",
        ),
        (
            json!({"site_id": "paris", "date_range": "7d", "metrics": ["visitors"], "filters": [["is", "visit:utm_source", ["x"]]]}),
            400,
            "consent-mode",
        ),
        (
            json!({"site_id": "paris", "date_range": "7d", "metrics": ["bounce_rate"], "dimensions": ["event:page"]}),
            400,
            "whole visits",
        ),
    ];
    for (body, status, expected) in cases {
        let answer = dashboard.query(body.clone()).await;
        assert_eq!(
            answer.status,
            status,
            "{body}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        let text = answer.json().to_string();
        assert!(text.contains(expected), "{body}: {text} lacks {expected}");
    }
    // Not JSON, too large, the wrong method, nowhere.
    let raw = |method: &str, target: &str, body: &[u8]| {
        dashboard.signed(browser_request(
            method,
            target,
            &[("Content-Type", "application/json")],
            body,
        ))
    };
    let answer = send(dashboard.addr, raw("POST", "/api/v2/query", b"{not json")).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["error"], "invalid_query");
    let huge = format!(r#"{{"site_id": "{}"}}"#, "x".repeat(100_000));
    let answer = send(
        dashboard.addr,
        raw("POST", "/api/v2/query", huge.as_bytes()),
    )
    .await;
    assert_eq!(answer.status, 413);
    let answer = send(dashboard.addr, raw("GET", "/api/v2/query", b"")).await;
    assert_eq!(answer.status, 405);
    let answer = send(dashboard.addr, raw("GET", "/nowhere", b"")).await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.json()["error"], "not_found");
    dashboard.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_filter_values_are_data() {
    let visits = generate(3, 9);
    let (_db, client) = database("api_hostile", &visits).await;
    let dashboard = dashboard(client).await;
    for value in [
        "' OR 1=1 --",
        "FR') OR ('1'='1",
        "\\'; DROP TABLE events; --",
        "?",
        "{x:String}",
        "\u{0}",
        "é\u{202e}",
    ] {
        for operator in ["is", "is_not", "contains", "does_not_contain"] {
            let mut body = base();
            body["filters"] = json!([
                [operator, "visit:country", [value]],
                [operator, "event:page", [value]]
            ]);
            body["dimensions"] = json!(["visit:country"]);
            let answer = dashboard.ok(body).await;
            let rows = answer["results"].as_array().expect("rows");
            if operator == "is" || operator == "contains" {
                assert!(rows.is_empty(), "{value:?} matched rows: {answer}");
            }
        }
    }
    // The events are all still there.
    let answer = dashboard.ok(base()).await;
    assert!(answer["results"][0]["metrics"][0].as_i64().unwrap_or(0) > 0);
    dashboard.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_query_shapes() {
    let visits = generate(10, 21);
    let (_db, client) = database("api_shapes", &visits).await;
    let dashboard = dashboard(client).await;
    // Plausible's own examples, by name.
    for (range, bucket) in [
        ("day", "time:hour"),
        ("7d", "time:day"),
        ("28d", "time:day"),
        ("30d", "time:day"),
        ("91d", "time:day"),
        ("month", "time:day"),
        ("6mo", "time:month"),
        ("12mo", "time:month"),
        ("year", "time:month"),
    ] {
        let answer = dashboard
            .ok(json!({"site_id": "www.paris.fr", "date_range": range,
                       "metrics": ["visitors", "events"], "dimensions": ["time"],
                       "include": {"time_labels": true}}))
            .await;
        assert_eq!(answer["query"]["dimensions"], json!([bucket]), "{range}");
        let labels = answer["meta"]["time_labels"].as_array().expect("labels");
        for row in answer["results"].as_array().expect("rows") {
            assert!(labels.contains(&row["dimensions"][0]), "{range}: {row}");
        }
    }
    // Pagination with the total, ordering by a dimension.
    let answer = dashboard
        .ok(
            json!({"site_id": "noumea", "date_range": "30d", "metrics": ["visitors"],
                   "dimensions": ["event:page"], "order_by": [["event:page", "asc"]],
                   "pagination": {"limit": 2, "offset": 1}, "include": {"total_rows": true}}),
        )
        .await;
    let rows = answer["results"].as_array().expect("rows");
    assert_eq!(rows.len(), 2);
    assert_eq!(answer["meta"]["total_rows"], json!(5));
    assert_eq!(rows[0]["dimensions"][0], "/actualites");
    assert_eq!(rows[1]["dimensions"][0], "/carte-grise");
    // Percentages of the whole, and a site named by its domain.
    let answer = dashboard
        .ok(json!({"site_id": "www.noumea.fr", "date_range": "30d",
                   "metrics": ["visitors", "percentage"], "dimensions": ["visit:device"]}))
        .await;
    let shares: f64 = answer["results"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["metrics"][1].as_f64().expect("share"))
        .sum();
    assert!((shares - 100.0).abs() < 0.5, "{answer}");
    dashboard.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics() {
    let (_db, client) = database("api_health", &[]).await;
    let dashboard = dashboard(client).await;
    let get = |path: &str| {
        send(
            dashboard.addr,
            dashboard.signed(browser_request("GET", path, &[], b"")),
        )
    };
    assert_eq!(get("/healthz").await.status, 200);
    let ready = get("/readyz").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["checks"]["clickhouse"], true);
    let _ = dashboard.query(base()).await;
    let _ = dashboard.query(json!({})).await;
    let metrics = String::from_utf8(get("/metrics").await.body).expect("text");
    for line in [
        "mesure_dashboard_requests_total{report=\"aggregate\",status=\"2xx\"} 1",
        "mesure_dashboard_requests_total{report=\"other\",status=\"4xx\"} 1",
        "mesure_dashboard_sites 3",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} not in\n{metrics}"
        );
    }
    assert!(metrics.contains(
        "mesure_dashboard_clickhouse_query_duration_seconds_count{source=\"rollups\"} 1"
    ));
    dashboard.stop();
}

/// The service seals finished days by itself, counts them in its metrics,
/// and long ranges then say they were answered from sealed days; asked
/// again, the sealed days' rows come from memory, with the same answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_seals_finished_days() {
    let (_db, client) = database("api_seal", &generate(10, 29)).await;
    let dashboard = dashboard(client).await;
    let metric = |text: &str, name: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    };
    let mut sealed = None;
    for _ in 0..100 {
        let text = dashboard.metrics().await;
        if metric(&text, "mesure_dashboard_seals_pending") == Some(0)
            && metric(&text, "mesure_dashboard_seals_total").is_some_and(|n| n > 0)
        {
            assert_eq!(metric(&text, "mesure_dashboard_seal_errors_total"), Some(0));
            assert!(text.contains("mesure_dashboard_seal_pass_duration_seconds_count"));
            sealed = metric(&text, "mesure_dashboard_seals_total");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Ten days of three sites, the oldest and today's maybe not finished.
    let sealed = sealed.expect("every finished day sealed");
    assert!((3 * 8..=3 * 12).contains(&sealed), "{sealed}");
    let answer = dashboard.ok(base()).await;
    let source = answer["meta"]["source"].as_str().expect("source");
    assert!(source.starts_with("sealed"), "{source}");
    let kept = |text: &str| {
        metric(
            text,
            "mesure_dashboard_sealed_answers_total{result=\"kept\"}",
        )
    };
    let before = dashboard.metrics().await;
    assert_eq!(dashboard.ok(base()).await, answer);
    let after = dashboard.metrics().await;
    assert!(kept(&after) > kept(&before), "{after}");
    dashboard.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_and_zip_exports() {
    let mut visits = generate(10, 23);
    // Event names a spreadsheet would run, were they not defused.
    let mut hostile = visits
        .iter()
        .find(|v| v.site == "noumea")
        .expect("a visit")
        .clone();
    for (i, name) in ["=1+2", "+33 1 23 45 67 89", "@SUM(A1)", "-2,\"x\""]
        .iter()
        .enumerate()
    {
        hostile.hits.push(Hit {
            ts: hostile.hits[0].ts + 1000 * (i as i64 + 1),
            kind: mesure_collector::event::Kind::Custom,
            path: "/".into(),
            name: (*name).to_owned(),
        });
    }
    visits.push(hostile);
    let (_db, client) = database("exports", &visits).await;
    let dashboard = dashboard(client).await;

    let csv = |body: Value| {
        send(
            dashboard.addr,
            dashboard.signed(browser_request(
                "POST",
                "/api/v2/query/csv",
                &[("Content-Type", "application/json")],
                body.to_string().as_bytes(),
            )),
        )
    };
    let answer = csv(json!({"site_id": "noumea", "date_range": "30d",
                            "metrics": ["visitors", "events"], "dimensions": ["event:name"]}))
    .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(
        answer.header("content-type").as_deref(),
        Some("text/csv; charset=utf-8")
    );
    assert!(
        answer
            .header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment; filename=\"mesure-noumea-")),
        "{:?}",
        answer.header("content-disposition")
    );
    let text = String::from_utf8(answer.body).expect("UTF-8");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("event:name,visitors,events"));
    for defused in [
        "'=1+2,",
        "'+33 1 23 45 67 89,",
        "'@SUM(A1),",
        "\"'-2,\"\"x\"\"\",",
    ] {
        assert!(text.contains(defused), "{defused} not in\n{text}");
    }
    // An exempt site: hidden counts read "< 5".
    let yesterday =
        local_date("paris", mesure_testkit::clock::real_now_ms()) - chrono::Days::new(1);
    let answer = csv(json!({"site_id": "paris",
                            "date_range": [yesterday.to_string(), yesterday.to_string()],
                            "metrics": ["visitors"],
                            "dimensions": ["event:page", "visit:browser", "visit:country"]}))
    .await;
    let text = String::from_utf8(answer.body).expect("UTF-8");
    assert!(text.lines().any(|l| l.ends_with(",< 5")), "{text}");

    // Every breakdown of a period, in a ZIP.
    for (site, campaigns) in [("noumea", true), ("paris", false)] {
        let answer = send(
            dashboard.addr,
            dashboard.signed(browser_request(
                "GET",
                &format!("/api/v1/export?site_id={site}&date_range=30d"),
                &[],
                b"",
            )),
        )
        .await;
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        assert_eq!(
            answer.header("content-type").as_deref(),
            Some("application/zip")
        );
        let mut zip =
            zip::ZipArchive::new(std::io::Cursor::new(answer.body)).expect("a ZIP archive");
        let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
        for name in [
            "overview.csv",
            "days.csv",
            "pages.csv",
            "entry-pages.csv",
            "sources.csv",
            "countries.csv",
            "goals.csv",
        ] {
            assert!(
                names.iter().any(|n| n == name),
                "{site}: {name} not in {names:?}"
            );
        }
        assert_eq!(
            names.iter().any(|n| n == "utm-sources.csv"),
            campaigns,
            "{site}"
        );
        let mut pages = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("pages.csv").expect("pages"), &mut pages)
            .expect("read");
        assert!(
            pages.starts_with("event:page,visitors,visits,pageviews,events\r\n"),
            "{pages}"
        );
    }
    let bad = send(
        dashboard.addr,
        dashboard.signed(browser_request(
            "GET",
            "/api/v1/export?site_id=paris",
            &[],
            b"",
        )),
    )
    .await;
    assert_eq!(bad.status, 400);
    dashboard.stop();
}
