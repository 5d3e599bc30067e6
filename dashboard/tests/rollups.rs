//! The rollups agree exactly with raw events: every query they answer is
//! asked twice, once read from them (with raw events for the part days at
//! the edges of a site's local days) and once from raw events only, on
//! realistic traffic in three time zones.

mod common;

use common::*;
use mesure_dashboard::api::v2::{Request, parse};
use mesure_dashboard::demo::{Spec, generate};
use mesure_dashboard::query::run;
use mesure_sites::{Site, SiteIndex};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollups_agree_exactly_with_raw_events() {
    let (_db, client) = database("rollups", &[]).await;
    let spec = Spec {
        sites: SITES.iter().map(|(id, _, _)| (*id).to_owned()).collect(),
        days: 40,
        events: 90_000,
        seed: 5,
    };
    let now = mesure_testkit::clock::real_now_ms();
    generate(&client, &spec, now.div_euclid(DAY_MS), |_, _| {})
        .await
        .expect("demo traffic");
    let sites = SiteIndex::new(
        mesure_collector::sites::load(&client)
            .await
            .expect("sites")
            .iter()
            .map(|row| Site::from_row(row).expect("valid")),
    );
    let hit_metrics = json!(["visitors", "visits", "pageviews", "events", "percentage"]);
    let all_metrics = json!([
        "visitors",
        "visits",
        "pageviews",
        "events",
        "views_per_visit",
        "bounce_rate",
        "visit_duration"
    ]);
    let mut asked = 0;
    for (site, _, _) in SITES {
        let yesterday = local_date(site, now) - chrono::Days::new(1);
        let day = json!([yesterday.to_string(), yesterday.to_string()]);
        // Thirty local days: whole UTC days inside, part days at the edges.
        let month = json!("30d");
        let mut queries: Vec<Value> = vec![
            json!({"date_range": month, "metrics": all_metrics,
                   "include": {"comparisons": {"mode": "previous_period"}}}),
            json!({"date_range": day, "metrics": all_metrics}),
            json!({"date_range": day, "metrics": all_metrics, "dimensions": ["time:hour"]}),
        ];
        for bucket in ["time:day", "time:week", "time:month"] {
            queries.push(json!({"date_range": month, "metrics": all_metrics,
                                "dimensions": [bucket]}));
        }
        for dimension in [
            "event:page",
            "event:hostname",
            "event:name",
            "event:outbound_link",
            "event:file_download",
        ] {
            queries.push(json!({"date_range": month, "metrics": hit_metrics,
                                "dimensions": [dimension]}));
        }
        for dimension in [
            "visit:source",
            "visit:referrer",
            "visit:channel",
            "visit:country",
            "visit:region_name",
            "visit:city_name",
            "visit:browser",
            "visit:os",
            "visit:device",
        ] {
            queries.push(json!({"date_range": month, "metrics": all_metrics,
                                "dimensions": [dimension]}));
        }
        queries.push(
            json!({"date_range": month, "metrics": ["visitors", "visits"],
                            "dimensions": ["visit:entry_page"]}),
        );
        for mut body in queries {
            body["site_id"] = json!(site);
            let request: Request = serde_json::from_value(body.clone()).expect("request");
            let query = parse(&request, &sites, &[], now).expect("valid");
            let from_rollups = run(&client, &query).await.expect("rollups");
            let raw = run(
                &client,
                &mesure_dashboard::query::Query {
                    raw: true,
                    ..query.clone()
                },
            )
            .await
            .expect("raw");
            assert_ne!(from_rollups.source, "events", "{body}");
            assert_eq!(raw.source, "events");
            let differing = from_rollups
                .rows
                .iter()
                .zip(&raw.rows)
                .find(|(a, b)| a != b);
            assert!(
                differing.is_none() && from_rollups.rows.len() == raw.rows.len(),
                "{body}: rollups and raw events differ ({} and {} rows): {differing:?}",
                from_rollups.rows.len(),
                raw.rows.len()
            );
            assert_eq!(from_rollups.total_rows, raw.total_rows, "{body}");
            asked += 1;
        }
    }
    assert_eq!(asked, 3 * 21, "every query asked");
}
