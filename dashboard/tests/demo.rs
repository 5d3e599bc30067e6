//! `mesure demo-data`'s traffic: the size asked for, through the same
//! tables and views as real hits, and shaped like real traffic.

mod common;

use common::*;
use mesure_dashboard::demo::{Spec, generate};

async fn number(client: &clickhouse::Client, sql: &str) -> f64 {
    client.query(sql).fetch_one::<f64>().await.expect(sql)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_traffic_looks_real() {
    let (_db, client) = database("demo", &[]).await;
    let spec = Spec {
        sites: vec!["paris".into(), "noumea".into(), "cayenne".into()],
        days: 14,
        events: 60_000,
        seed: 3,
    };
    let today = mesure_testkit::clock::real_now_ms().div_euclid(DAY_MS);
    let mut batches = 0;
    let inserted = generate(&client, &spec, today, |_, _| batches += 1)
        .await
        .expect("generated");
    assert!(batches >= 1);
    assert!(
        (57_000..=63_000).contains(&inserted),
        "{inserted} hits for 60,000 asked"
    );
    let count = |sql: &'static str| number(&client, sql);
    assert_eq!(
        count("SELECT toFloat64(uniqExact(site_id)) FROM events").await,
        3.0
    );
    assert_eq!(
        count("SELECT toFloat64(uniqExact(kind)) FROM events").await,
        4.0,
        "page views, custom events, outbound links, downloads"
    );
    // Through the views: the visits' rollup holds every page view.
    assert_eq!(
        count("SELECT toFloat64(sum(pageviews)) FROM sessions").await,
        count("SELECT toFloat64(countIf(kind = 'pageview')) FROM events").await
    );
    let bounces = count(
        "SELECT countIf(e = 1) / count() FROM (SELECT session_id, sum(events) AS e \
         FROM sessions GROUP BY session_id)",
    )
    .await;
    assert!((0.35..0.55).contains(&bounces), "bounce rate {bounces}");
    // Week-ends are quieter, nights too, and ids never span two days.
    let weekend = count(
        "SELECT countIf(toDayOfWeek(ts) >= 6) / 2 / (countIf(toDayOfWeek(ts) < 6) / 5) FROM events",
    )
    .await;
    assert!(
        weekend < 0.8,
        "a week-end day has {weekend} of a weekday's hits"
    );
    let night = count(
        "SELECT countIf(toHour(ts, 'Europe/Paris') = 3) / countIf(toHour(ts, 'Europe/Paris') = 11) \
         FROM events",
    )
    .await;
    assert!(night < 0.2, "3 a.m. has {night} of 11 a.m.'s hits");
    assert_eq!(
        count(
            "SELECT toFloat64(count()) FROM (SELECT visitor_id FROM events GROUP BY visitor_id \
             HAVING uniqExact(toDate(ts)) > 1)"
        )
        .await,
        0.0
    );
    let top_page = count(
        "SELECT max(c) / sum(c) FROM (SELECT path, count() AS c FROM events \
         WHERE kind = 'pageview' GROUP BY path)",
    )
    .await;
    assert!(
        (0.05..0.3).contains(&top_page),
        "the home page has {top_page} of page views"
    );
    // And the dashboard reads it.
    let dashboard = dashboard(client).await;
    for site in &spec.sites {
        let answer = dashboard
            .ok(serde_json::json!({"site_id": site, "date_range": "30d",
                                   "metrics": ["visitors", "bounce_rate"]}))
            .await;
        assert!(
            answer["results"][0]["metrics"][0].as_i64().unwrap_or(0) > 1000,
            "{site}: {answer}"
        );
    }
    dashboard.stop();
}
