//! The stats API against the local ClickHouse, on generated traffic whose
//! true figures are computed here from the generated visits: every metric,
//! time series by local day in three time zones, breakdowns (pages,
//! sources, countries, entry and exit pages), filters, comparison periods,
//! and the small-count rule of exempt sites.

mod common;

use chrono::{Days, NaiveDate};
use common::*;
use mesure_collector::event::Kind;
use serde_json::{Value, json};

const METRICS: &[&str] = &[
    "visitors",
    "visits",
    "pageviews",
    "views_per_visit",
    "bounce_rate",
    "visit_duration",
    "events",
];

fn yesterday(site: &str) -> NaiveDate {
    local_date(site, mesure_testkit::clock::real_now_ms()) - Days::new(1)
}

fn range(first: NaiveDate, last: NaiveDate) -> Value {
    json!([first.to_string(), last.to_string()])
}

fn metrics_of(answer: &Value, row: usize) -> Vec<Value> {
    answer["results"][row]["metrics"]
        .as_array()
        .expect("metrics")
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figures_match_the_generated_traffic() {
    let visits = generate(30, 7);
    let (_db, client) = database("figures", &visits).await;
    let dashboard = dashboard(client).await;

    for (site, _, _) in SITES {
        let mine = of_site(&visits, site);
        let last = yesterday(site);
        let first = last - Days::new(20);
        let (start, end) = local_range(site, first, last);

        // Every metric over 21 whole local days.
        let answer = dashboard
            .ok(json!({"site_id": site, "date_range": range(first, last), "metrics": METRICS}))
            .await;
        let truth = Truth::of(&mine, start, end, |_, _| true, |_| true);
        let expected: Vec<Value> = METRICS.iter().map(|m| truth.metric(m)).collect();
        assert_eq!(metrics_of(&answer, 0), expected, "{site}: aggregate");
        assert_eq!(
            answer["meta"]["source"], "rollups",
            "whole days, whole hours"
        );
        assert_eq!(answer["query"]["date_range"], range(first, last));

        // One value a local day: the day boundaries are the site's.
        let answer = dashboard
            .ok(json!({
                "site_id": site, "date_range": range(first, last),
                "metrics": ["visitors", "pageviews", "visits", "bounce_rate"],
                "dimensions": ["time:day"],
            }))
            .await;
        let rows = by_dimensions(&answer);
        let mut day = first;
        while day <= last {
            let (start, end) = local_range(site, day, day);
            let truth = Truth::of(&mine, start, end, |_, _| true, |_| true);
            let expected: Vec<Value> = ["visitors", "pageviews", "visits", "bounce_rate"]
                .iter()
                .map(|m| truth.metric(m))
                .collect();
            match rows.get(&vec![day.to_string()]) {
                Some(got) => assert_eq!(got, &expected, "{site} on {day}"),
                None => assert_eq!(truth, Truth::default(), "{site} on {day}: missing"),
            }
            day = day + Days::new(1);
        }
        let days: Vec<&str> = answer["results"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| r["dimensions"][0].as_str().expect("day"))
            .collect();
        let mut sorted = days.clone();
        sorted.sort_unstable();
        assert_eq!(days, sorted, "time series in order");
    }
    dashboard.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breakdowns_and_filters_match_the_generated_traffic() {
    let visits = generate(30, 11);
    let (_db, client) = database("breakdowns", &visits).await;
    let dashboard = dashboard(client).await;
    // Nouméa is in consent mode: no count is hidden there.
    let site = "noumea";
    let mine = of_site(&visits, site);
    let last = yesterday(site);
    let first = last - Days::new(27);
    let (start, end) = local_range(site, first, last);
    let ask = |dimensions: Value, metrics: Value, filters: Value| {
        json!({"site_id": site, "date_range": range(first, last), "metrics": metrics,
               "dimensions": dimensions, "filters": filters})
    };

    // Pages: page views and their visitors.
    let answer = dashboard
        .ok(ask(
            json!(["event:page"]),
            json!(["visitors", "pageviews", "visits"]),
            json!([]),
        ))
        .await;
    let rows = by_dimensions(&answer);
    for page in keys(&mine, |_, h| {
        (h.kind == Kind::Pageview).then(|| h.path.clone())
    }) {
        let truth = Truth::of(
            &mine,
            start,
            end,
            |_, h| h.kind == Kind::Pageview && h.path == page,
            |_| false,
        );
        let visits_with_page = mine
            .iter()
            .filter(|v| {
                v.hits.iter().any(|h| {
                    h.kind == Kind::Pageview && h.path == page && h.ts >= start && h.ts < end
                })
            })
            .count();
        assert_eq!(
            rows.get(&vec![page.clone()]),
            Some(&vec![
                truth.metric("visitors"),
                truth.metric("pageviews"),
                json!(visits_with_page)
            ]),
            "page {page}"
        );
    }
    let order: Vec<i64> = answer["results"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["metrics"][0].as_i64().expect("visitors"))
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] >= w[1]),
        "by visitors, descending"
    );

    // Sources, with the visits' figures.
    let answer = dashboard
        .ok(ask(
            json!(["visit:source"]),
            json!(["visitors", "visits", "bounce_rate", "visit_duration"]),
            json!([]),
        ))
        .await;
    let rows = by_dimensions(&answer);
    for source in keys(&mine, |v, _| Some(v.source().to_owned())) {
        let truth = Truth::of(
            &mine,
            start,
            end,
            |v, _| v.source() == source,
            |v| v.source() == source,
        );
        let expected: Vec<Value> = ["visitors", "visits", "bounce_rate", "visit_duration"]
            .iter()
            .map(|m| truth.metric(m))
            .collect();
        assert_eq!(
            rows.get(&vec![source.clone()]),
            Some(&expected),
            "source {source}"
        );
    }

    // Entry and exit pages: the first and last page of each visit.
    for (dimension, page_of) in [
        (
            "visit:entry_page",
            Visit::entry as fn(&Visit) -> Option<&str>,
        ),
        ("visit:exit_page", Visit::exit),
    ] {
        let answer = dashboard
            .ok(ask(
                json!([dimension]),
                json!(["visits", "bounce_rate"]),
                json!([]),
            ))
            .await;
        let rows = by_dimensions(&answer);
        for page in keys(&mine, |v, _| page_of(v).map(str::to_owned)) {
            let truth = Truth::of(
                &mine,
                start,
                end,
                |_, _| false,
                |v| page_of(v) == Some(&page),
            );
            if truth.visits > 0 {
                assert_eq!(
                    rows.get(&vec![page.clone()]),
                    Some(&vec![truth.metric("visits"), truth.metric("bounce_rate")]),
                    "{dimension} {page}"
                );
            }
        }
    }

    // Filters: a visit's country, a page contained, a page excluded.
    let answer = dashboard
        .ok(ask(
            json!([]),
            json!(["visitors", "pageviews", "visits", "bounce_rate"]),
            json!([
                ["is", "visit:country", ["BE", "CA"]],
                ["is_not", "visit:browser", ["Edge"]]
            ]),
        ))
        .await;
    let keep = |v: &Visit| ["BE", "CA"].contains(&v.country) && v.browser != "Edge";
    let truth = Truth::of(&mine, start, end, |v, _| keep(v), keep);
    assert_eq!(
        metrics_of(&answer, 0),
        ["visitors", "pageviews", "visits", "bounce_rate"]
            .iter()
            .map(|m| truth.metric(m))
            .collect::<Vec<_>>(),
        "country and browser"
    );
    let answer = dashboard
        .ok(ask(
            json!([]),
            json!(["visitors", "pageviews", "visits"]),
            json!([["contains", "event:page", ["carte", "contact"]]]),
        ))
        .await;
    let on_page = |h: &Hit| h.path.contains("carte") || h.path.contains("contact");
    let truth = Truth::of(
        &mine,
        start,
        end,
        |_, h| on_page(h),
        |v| v.hits.iter().any(|h| on_page(h) && h.ts < end + DAY_MS),
    );
    assert_eq!(
        metrics_of(&answer, 0),
        vec![
            truth.metric("visitors"),
            truth.metric("pageviews"),
            truth.metric("visits")
        ],
        "page contains"
    );
    dashboard.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comparisons_and_small_counts() {
    let visits = generate(30, 13);
    let (_db, client) = database("comparisons", &visits).await;
    let dashboard = dashboard(client).await;
    let site = "paris";
    let mine = of_site(&visits, site);
    let last = yesterday(site);
    let first = last - Days::new(9);
    let answer = dashboard
        .ok(json!({
            "site_id": site, "date_range": range(first, last),
            "metrics": ["visitors", "visits", "bounce_rate"],
            "include": {"comparisons": {"mode": "previous_period"}},
        }))
        .await;
    let (start, end) = local_range(site, first, last);
    let (before_start, before_end) = local_range(site, first - Days::new(10), last - Days::new(10));
    let now = Truth::of(&mine, start, end, |_, _| true, |_| true);
    let then = Truth::of(&mine, before_start, before_end, |_, _| true, |_| true);
    let row = &answer["results"][0];
    let values = |t: &Truth| {
        ["visitors", "visits", "bounce_rate"]
            .iter()
            .map(|m| t.metric(m))
            .collect::<Vec<_>>()
    };
    assert_eq!(row["metrics"].as_array().expect("metrics"), &values(&now));
    assert_eq!(
        row["comparison"]["metrics"].as_array().expect("compared"),
        &values(&then)
    );
    let change = ((now.visitors as f64 - then.visitors as f64) / then.visitors as f64 * 100.0)
        .round() as i64;
    assert_eq!(row["comparison"]["change"][0], json!(change));
    assert_eq!(
        answer["query"]["include"]["comparisons"]["date_range"],
        range(first - Days::new(10), last - Days::new(10))
    );

    // An exempt site: no breakdown row shows fewer than 5 visitors. A
    // consent-mode site shows them all.
    let fine = |site: &str| {
        json!({
            "site_id": site, "date_range": range(last - Days::new(1), last),
            "metrics": ["visitors", "pageviews"],
            "dimensions": ["event:page", "visit:browser", "visit:country"],
        })
    };
    let answer = dashboard.ok(fine(site)).await;
    let mut hidden = 0;
    for row in answer["results"].as_array().expect("rows") {
        match row["metrics"][0].as_i64() {
            Some(visitors) => assert!(visitors >= 5, "{row}"),
            None => {
                assert_eq!(row["metrics"][1], Value::Null, "all of the row is hidden");
                hidden += 1;
            }
        }
    }
    assert!(hidden > 0, "the generated traffic has small rows: {answer}");
    assert_eq!(answer["meta"]["small_counts_hidden"], json!(hidden));
    assert_eq!(answer["meta"]["small_count_threshold"], json!(5));
    let consent = dashboard.ok(fine("noumea")).await;
    let shown = consent["results"].as_array().expect("rows");
    assert!(
        shown
            .iter()
            .any(|r| r["metrics"][0].as_i64().is_some_and(|v| v < 5)),
        "{consent}"
    );
    assert!(consent["meta"].get("small_counts_hidden").is_none());
    dashboard.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goals_and_conversion_rates() {
    use mesure_collector::sites::goals::{self, GoalRow};
    let visits = generate(20, 17);
    let (_db, client) = database("goals", &visits).await;
    for (name, page, event) in [
        ("Carte grise", "/carte-*", ""),
        ("Inscription", "", "Inscription"),
    ] {
        goals::put(
            &client,
            GoalRow {
                site_id: "noumea".into(),
                name: name.into(),
                page_pattern: page.into(),
                event_name: event.into(),
                updated_at: 0,
                deleted: false,
            },
        )
        .await
        .expect("goal");
    }
    let dashboard = dashboard(client).await;
    let site = "noumea";
    let mine = of_site(&visits, site);
    let last = yesterday(site);
    let first = last - Days::new(13);
    let (start, end) = local_range(site, first, last);
    let everyone = Truth::of(&mine, start, end, |_, _| true, |_| true);
    let reached = |goal: &str, h: &Hit| match goal {
        "Carte grise" => h.kind == Kind::Pageview && h.path.starts_with("/carte-"),
        _ => h.kind == Kind::Custom && h.name == "Inscription",
    };
    let rate = |t: &Truth| ((t.visitors as f64 / everyone.visitors as f64) * 1000.0).round() / 10.0;

    // Goals may load a moment after the dashboard: ask until they are known.
    let ask = json!({"site_id": site, "date_range": range(first, last),
                     "metrics": ["visitors", "events", "conversion_rate"],
                     "dimensions": ["event:goal"]});
    let mut answer = dashboard.ok(ask.clone()).await;
    for _ in 0..50 {
        if answer["results"].as_array().is_some_and(|r| r.len() == 2) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        answer = dashboard.ok(ask.clone()).await;
    }
    let rows = by_dimensions(&answer);
    for goal in ["Carte grise", "Inscription"] {
        let truth = Truth::of(&mine, start, end, |_, h| reached(goal, h), |_| false);
        assert_eq!(
            rows.get(&vec![goal.to_owned()]),
            Some(&vec![
                truth.metric("visitors"),
                truth.metric("events"),
                json!(rate(&truth))
            ]),
            "{goal}"
        );
    }

    // A goal as a filter: who reached it, by source.
    let answer = dashboard
        .ok(json!({"site_id": site, "date_range": range(first, last),
                   "metrics": ["visitors", "conversion_rate"],
                   "filters": [["is", "event:goal", ["Inscription"]]]}))
        .await;
    let truth = Truth::of(
        &mine,
        start,
        end,
        |_, h| reached("Inscription", h),
        |_| false,
    );
    assert_eq!(
        metrics_of(&answer, 0),
        vec![truth.metric("visitors"), json!(rate(&truth))]
    );
    dashboard.stop();
}

/// Visits happening now: `count` visitors, `minutes_ago`, on `page`.
fn now_visits(
    site: &'static str,
    count: u64,
    minutes_ago: i64,
    page: &str,
    first_id: u64,
) -> Vec<Visit> {
    let now = mesure_testkit::clock::real_now_ms();
    (0..count)
        .map(|i| Visit {
            site,
            visitor: first_id + i,
            session: first_id + i,
            hits: vec![Hit {
                ts: now - minutes_ago * 60_000,
                kind: Kind::Pageview,
                path: page.to_owned(),
                name: String::new(),
            }],
            referrer: (
                "google.fr",
                "Google",
                mesure_collector::event::Channel::Search,
            ),
            country: "FR",
            browser: "Firefox",
            device: mesure_collector::event::Device::Desktop,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_counts_are_rounded_for_exempt_sites() {
    let mut visits = Vec::new();
    for site in ["paris", "noumea"] {
        visits.extend(now_visits(site, 6, 2, "/maintenant", 1_000));
        visits.extend(now_visits(site, 8, 20, "/tout-a-l-heure", 2_000));
        visits.extend(now_visits(site, 3, 25, "/rare", 3_000));
        visits.extend(now_visits(site, 4, 45, "/avant", 4_000));
    }
    let (_db, client) = database("realtime", &visits).await;
    let dashboard = dashboard(client).await;
    let realtime = |site: &str| {
        send(
            dashboard.addr,
            dashboard.signed(browser_request(
                "GET",
                &format!("/api/v1/realtime?site_id={site}"),
                &[],
                b"",
            )),
        )
    };
    let exact = realtime("noumea").await.json();
    assert_eq!(exact["visitors_5m"], json!(6));
    assert_eq!(exact["visitors_30m"], json!(17));
    assert_eq!(
        exact["pages"],
        json!([{"page": "/tout-a-l-heure", "visitors": 8}, {"page": "/maintenant", "visitors": 6},
               {"page": "/rare", "visitors": 3}])
    );
    assert_eq!(
        exact["sources"],
        json!([{"source": "Google", "visitors": 17}])
    );
    assert_eq!(exact["rounded_to"], Value::Null);
    let rounded = realtime("paris").await.json();
    assert_eq!(rounded["visitors_5m"], json!(10));
    assert_eq!(rounded["visitors_30m"], json!(20));
    assert_eq!(
        rounded["pages"],
        json!([{"page": "/tout-a-l-heure", "visitors": 10}, {"page": "/maintenant", "visitors": 10}]),
        "a page read by 3 rounds to nothing and is left out"
    );
    assert_eq!(rounded["rounded_to"], json!(10));
    let unknown = realtime("inconnu").await;
    assert_eq!(unknown.status, 404);
    let missing = send(
        dashboard.addr,
        dashboard.signed(browser_request("GET", "/api/v1/realtime", &[], b"")),
    )
    .await;
    assert_eq!(missing.status, 400);
    dashboard.stop();
}
