//! The collector as it runs: hits in over HTTP, rows out of the local
//! ClickHouse, sessions aggregated across several hits.

mod common;

use common::{browser_request, pixel, prepared_database, send, start};
use mesure_collector::sites::{self, SiteRow};
use std::time::Duration;

#[derive(Debug, PartialEq, clickhouse::Row, serde::Deserialize)]
struct SessionRow {
    pageviews: u64,
    events: u64,
    entry: String,
    exit: String,
    channel: String,
    country_code: String,
}

#[tokio::test]
async fn hits_become_rows_and_sessions() {
    let (_db, client) = prepared_database("e2e").await;
    let running = start(client.clone()).await;
    let addr = running.addr;
    let page = |path: &str| format!("s=prefecture&u=https%3A%2F%2Fwww.prefecture.gouv.fr{path}");

    // Visitor A: three pages from a search engine, then a custom event.
    pixel(
        addr,
        &format!("{}&r=https%3A%2F%2Fwww.qwant.com%2F", page("%2Fa")),
        "193.50.60.11",
    )
    .await;
    pixel(addr, &page("%2Fb"), "193.50.60.11").await;
    pixel(addr, &page("%2Fc"), "193.50.60.11").await;
    let event = send(
        addr,
        browser_request(
            "POST",
            "/api/event",
            &[
                ("X-Forwarded-For", "193.50.60.11"),
                ("Content-Type", "text/plain;charset=UTF-8"),
                ("Origin", "https://www.prefecture.gouv.fr"),
            ],
            br#"{"s":"prefecture","n":"Inscription","u":"https://www.prefecture.gouv.fr/c"}"#,
        ),
    )
    .await;
    assert_eq!(
        event.status,
        202,
        "{}",
        String::from_utf8_lossy(&event.body)
    );
    assert_eq!(
        event.header("access-control-allow-origin").as_deref(),
        Some("https://www.prefecture.gouv.fr")
    );
    // Visitor B: two pages, from another address.
    pixel(addr, &page("%2Fb"), "2a01:cb00:1234:5678::1").await;
    pixel(addr, &page("%2Fa"), "2a01:cb00:1234:5678::1").await;
    // Not stored: Do Not Track, a robot.
    send(
        addr,
        browser_request(
            "GET",
            &format!("/p.gif?{}", page("%2F")),
            &[("DNT", "1")],
            b"",
        ),
    )
    .await;
    send(
        addr,
        browser_request(
            "GET",
            &format!("/p.gif?{}", page("%2F")),
            &[("User-Agent", "curl/8.5.0")],
            b"",
        ),
    )
    .await;

    let metrics = String::from_utf8(
        send(addr, browser_request("GET", "/metrics", &[], b""))
            .await
            .body,
    )
    .expect("metrics text");
    for line in [
        "mesure_hits_accepted_total 6",
        "mesure_hits_dropped_total{reason=\"dnt\"} 1",
        "mesure_hits_dropped_total{reason=\"bot\"} 1",
        "mesure_hits_received_total{endpoint=\"pixel\"} 7",
        "mesure_hits_received_total{endpoint=\"event\"} 1",
        "mesure_sites 4",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} not in\n{metrics}"
        );
    }
    running.stop().await;

    let count: u64 = client
        .query("SELECT count() FROM events")
        .fetch_one()
        .await
        .expect("count");
    assert_eq!(count, 6, "rows stored = hits accepted");
    let sessions: Vec<SessionRow> = client
        .query(
            "SELECT sum(pageviews) AS pageviews, sum(events) AS events, \
             argMinMerge(entry_page) AS entry, argMaxMerge(exit_page) AS exit, \
             toString(any(channel)) AS channel, any(country_code) AS country_code \
             FROM sessions GROUP BY session_id ORDER BY pageviews DESC",
        )
        .fetch_all()
        .await
        .expect("sessions");
    let session =
        |pageviews, events, entry: &str, exit: &str, channel: &str, country: &str| SessionRow {
            pageviews,
            events,
            entry: entry.into(),
            exit: exit.into(),
            channel: channel.into(),
            country_code: country.into(),
        };
    assert_eq!(
        sessions,
        [
            session(3, 4, "/a", "/c", "search", "FR"),
            session(2, 2, "/b", "/a", "direct", "FR"),
        ]
    );
    let (visitors, visits, pageviews): (u64, u64, u64) = client
        .query(
            "SELECT uniqMerge(visitors), uniqMerge(visits), sum(pageviews) FROM hourly_stats \
             WHERE site_id = 'prefecture'",
        )
        .fetch_one()
        .await
        .expect("hourly stats");
    assert_eq!((visitors, visits, pageviews), (2, 2, 5));
}

#[tokio::test]
async fn sites_added_while_running_are_picked_up() {
    let (_db, client) = prepared_database("e2e_sites").await;
    let running = start(client.clone()).await;
    let hit = |addr| async move {
        send(
            addr,
            browser_request(
                "POST",
                "/api/event",
                &[("Content-Type", "application/json")],
                br#"{"s":"nouveau","u":"https://nouveau.fr/"}"#,
            ),
        )
        .await
        .status
    };
    assert_eq!(hit(running.addr).await, 404);
    sites::put(&client, SiteRow::new("nouveau", &["nouveau.fr"]))
        .await
        .expect("put");
    let mut status = 404;
    for _ in 0..100 {
        status = hit(running.addr).await;
        if status == 202 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 202, "the new site is accepted without a restart");
    sites::remove(&client, "nouveau").await.expect("remove");
    for _ in 0..100 {
        status = hit(running.addr).await;
        if status == 404 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 404, "a removed site is refused without a restart");
    running.stop().await;
}
