//! The rollups and the sealed days agree exactly with raw events: every
//! query they answer is asked twice, once the fast way and once from raw
//! events only, on realistic traffic in three time zones, with no day
//! sealed, some, all, after late hits, after a seal that never finished,
//! and after the goals changed.

mod common;

use chrono::NaiveDate;
use clickhouse::Client;
use common::*;
use mesure_dashboard::api::v2::{Request, parse};
use mesure_dashboard::demo::{Spec, generate};
use mesure_dashboard::query::{Query, Reader, run};
use mesure_dashboard::seal;
use mesure_sites::goals::{Goal, Target};
use mesure_sites::{Site, SiteIndex};
use serde_json::{Value, json};
use std::sync::Arc;

struct Traffic {
    db: String,
    client: Client,
    /// Shared by every step: what it keeps of sealed days must never be
    /// read for other versions.
    reader: Reader,
    sites: SiteIndex,
    now: i64,
}

fn goals(names: &[(&str, Target)]) -> Vec<Goal> {
    SITES
        .iter()
        .flat_map(|(site, _, _)| {
            names.iter().map(|(name, target)| Goal {
                site_id: (*site).to_owned(),
                name: (*name).to_owned(),
                target: target.clone(),
            })
        })
        .collect()
}

fn first_goals() -> Vec<Goal> {
    goals(&[
        ("Carte grise", Target::Page("/carte-*".into())),
        ("Inscription", Target::Event("Inscription".into())),
    ])
}

/// Every query the fast paths answer, for one site.
fn queries(site: &str, now: i64) -> Vec<Value> {
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
    let yesterday = local_date(site, now) - chrono::Days::new(1);
    let day = json!([yesterday.to_string(), yesterday.to_string()]);
    // Thirty local days: whole UTC days inside, part days at the edges.
    let month = json!("30d");
    let mut queries: Vec<Value> = vec![
        json!({"date_range": month, "metrics": all_metrics,
               "include": {"comparisons": {"mode": "previous_period"}}}),
        json!({"date_range": day, "metrics": all_metrics}),
        json!({"date_range": day, "metrics": all_metrics, "dimensions": ["time:hour"]}),
        json!({"date_range": month, "metrics": ["visitors", "events", "conversion_rate"],
               "dimensions": ["event:goal"]}),
        // Reaching back before the first hit: those days are not read.
        json!({"date_range": "6mo", "metrics": all_metrics, "dimensions": ["time:month"],
               "include": {"comparisons": {"mode": "previous_period"}}}),
        json!({"date_range": "6mo", "metrics": all_metrics, "dimensions": ["visit:country"]}),
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
    queries
}

impl Traffic {
    /// Forty days of demo traffic, ending today, in a database of its own.
    async fn new(prefix: &str, events: u64) -> Traffic {
        let (db, client) = database(prefix, &[]).await;
        let spec = Spec {
            sites: SITES.iter().map(|(id, _, _)| (*id).to_owned()).collect(),
            days: 40,
            events,
            seed: 5,
        };
        let now = mesure_testkit::clock::real_now_ms();
        generate(&client, &spec, now.div_euclid(DAY_MS), |_, _| {})
            .await
            .expect("demo traffic");
        Traffic::over(db, client, now).await
    }

    async fn over(db: String, client: Client, now: i64) -> Traffic {
        let sites = SiteIndex::new(
            mesure_collector::sites::load(&client)
                .await
                .expect("sites")
                .iter()
                .map(|row| Site::from_row(row).expect("valid")),
        );
        let reader = Reader::new(client.clone(), 16 << 20);
        Traffic {
            db,
            client,
            reader,
            sites,
            now,
        }
    }

    fn site(&self, id: &str) -> Arc<Site> {
        Arc::clone(self.sites.by_id(id).expect("site"))
    }

    fn all_sites(&self) -> Vec<Arc<Site>> {
        self.sites.iter().cloned().collect()
    }

    /// Asks every query of `sites` both ways and finds the same answers;
    /// returns the fast way's source of each.
    async fn agree(&self, sites: &[&str], goals: &[Goal], step: &str) -> Vec<&'static str> {
        let mut sources = Vec::new();
        // As the service does once it sealed days.
        self.reader.forget_sealed_days();
        for site in sites {
            for mut body in queries(site, self.now) {
                body["site_id"] = json!(site);
                let request: Request = serde_json::from_value(body.clone()).expect("request");
                let query = parse(&request, &self.sites, goals, self.now).expect("valid");
                let fast = run(&self.reader, &query).await.expect("fast");
                // Asked again: from what was kept of the sealed days.
                let again = run(&self.reader, &query).await.expect("again");
                assert_eq!(again, fast, "{step}: {body}: asked again");
                let raw = run(
                    &self.reader,
                    &Query {
                        raw: true,
                        ..query.clone()
                    },
                )
                .await
                .expect("raw");
                assert_eq!(raw.source, "events");
                let differing = fast.rows.iter().zip(&raw.rows).find(|(a, b)| a != b);
                assert!(
                    differing.is_none() && fast.rows.len() == raw.rows.len(),
                    "{step}: {body}: {} and raw events differ ({} and {} rows): {differing:?}",
                    fast.source,
                    fast.rows.len(),
                    raw.rows.len()
                );
                assert_eq!(fast.total_rows, raw.total_rows, "{step}: {body}");
                assert!(!fast.rows.is_empty(), "{step}: {body}: no rows");
                // Goals are never in the rollups' views: sealed or raw.
                if body["dimensions"] != json!(["event:goal"]) {
                    assert_ne!(fast.source, "events", "{step}: {body}");
                }
                sources.push(fast.source);
            }
        }
        sources
    }

    async fn stale(&self, site: &Site, goals: &[Goal]) -> Vec<NaiveDate> {
        seal::stale_days(
            &self.client,
            &site.id,
            &seal::basis(site, goals),
            seal::closed_before(self.now),
        )
        .await
        .expect("stale days")
    }

    async fn seal_all(&self, goals: &[Goal]) {
        let done = seal::pass(&self.client, &self.all_sites(), goals, self.now, usize::MAX)
            .await
            .expect("seal pass");
        assert_eq!(done.left, 0);
        for site in self.all_sites() {
            assert_eq!(self.stale(&site, goals).await, [], "{}", site.id);
        }
    }

    async fn exec(&self, sql: &str) {
        self.client.query(sql).execute().await.expect(sql);
    }
}

fn count(sources: &[&str], pattern: &str) -> usize {
    sources.iter().filter(|s| s.contains(pattern)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollups_and_sealed_days_agree_exactly_with_raw_events() {
    let traffic = Traffic::new("rollups", 90_000).await;
    let goals = first_goals();
    let every_site: Vec<&str> = SITES.iter().map(|(id, _, _)| *id).collect();
    let per_site = queries("paris", traffic.now).len();

    // Nothing sealed: the rollups answer.
    let sources = traffic.agree(&every_site, &goals, "unsealed").await;
    assert_eq!(sources.len(), 3 * per_site, "every query asked");
    assert_eq!(count(&sources, "sealed"), 0, "{sources:?}");

    // Every other day sealed: sealed days, the rollups and raw edges mixed.
    for site in traffic.all_sites() {
        let stale = traffic.stale(&site, &goals).await;
        assert!(stale.len() >= 38, "{}: {stale:?}", site.id);
        let basis = seal::basis(&site, &goals);
        let some: Vec<NaiveDate> = stale.iter().step_by(2).copied().collect();
        for batch in some.chunks(seal::BATCH_DAYS) {
            seal::seal(
                &traffic.client,
                &site,
                &goals,
                &basis,
                batch,
                seal::version(traffic.now),
            )
            .await
            .expect("seal");
        }
        assert_eq!(
            traffic.stale(&site, &goals).await.len(),
            stale.len() - some.len()
        );
    }
    let sources = traffic.agree(&every_site, &goals, "partly sealed").await;
    assert!(count(&sources, "sealed+") >= 3 * 4, "{sources:?}");

    // Every finished day sealed.
    traffic.seal_all(&goals).await;
    let sources = traffic.agree(&every_site, &goals, "sealed").await;
    assert!(
        count(&sources, "sealed") >= 3 * (per_site - 2),
        "{sources:?}"
    );

    // Late visits into a sealed day (copies of five of its visits under
    // other ids): it is stale until sealed again.
    let paris = traffic.site("paris");
    let late = seal::closed_before(traffic.now) - chrono::Days::new(3);
    traffic
        .exec(&format!(
            "INSERT INTO events SELECT * REPLACE (bitXor(session_id, 77) AS session_id, \
             bitXor(visitor_id, 77) AS visitor_id) FROM events WHERE site_id = 'paris' \
             AND events.session_id IN (SELECT session_id FROM events WHERE site_id = 'paris' \
             AND toDate(session_start) = '{late}' AND toHour(session_start) BETWEEN 8 AND 20 \
             AND hit = 1 ORDER BY session_id LIMIT 5)"
        ))
        .await;
    assert_eq!(traffic.stale(&paris, &goals).await, [late]);
    traffic.seal_all(&goals).await;
    traffic.agree(&["paris"], &goals, "sealed again").await;

    // A seal that wrote its figures but never listed them: readers keep the
    // listed version, and the day needs no seal for it.
    let other = late - chrono::Days::new(5);
    traffic
        .exec(&format!(
            "INSERT INTO sealed_figures (site_id, day, part, dimension, value, visitors, \
             events, version) VALUES ('paris', '{other}', toDate(0), 'total', '', 1, 999999, \
             {})",
            seal::version(traffic.now + 1000)
        ))
        .await;
    assert_eq!(traffic.stale(&paris, &goals).await, []);
    traffic.agree(&["paris"], &goals, "unlisted figures").await;

    // Other goals or another time zone: every day is stale, and readers
    // leave the sealed days until sealed again.
    let changed = goals_changed();
    assert!(traffic.stale(&paris, &changed).await.len() >= 38);
    let mut elsewhere = (*paris).clone();
    elsewhere.time_zone = "Asia/Tokyo".into();
    assert!(traffic.stale(&elsewhere, &goals).await.len() >= 38);
    let sources = traffic.agree(&["paris"], &changed, "goals changed").await;
    assert_eq!(count(&sources, "sealed"), 0, "{sources:?}");
    traffic.seal_all(&changed).await;
    let sources = traffic
        .agree(&["paris"], &changed, "sealed with new goals")
        .await;
    assert!(count(&sources, "sealed") >= per_site - 2, "{sources:?}");
}

fn goals_changed() -> Vec<Goal> {
    let mut changed = first_goals();
    changed.extend(goals(&[("Recherche", Target::Event("Recherche".into()))]));
    changed
}

/// The cluster guide moves a running single node by copying only `events`,
/// month by month, into a database whose materialized views rebuild
/// `sessions` and every rollup: the copy must answer every query as the
/// original does, before and after sealing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copying_only_events_month_by_month_rebuilds_every_derived_table() {
    let old = Traffic::new("move_old", 30_000).await;
    let (db, client) = database("move_new", &[]).await;
    let months: Vec<u32> = old
        .client
        .query("SELECT DISTINCT toYYYYMM(ts) FROM events ORDER BY 1")
        .fetch_all()
        .await
        .expect("months");
    assert!(months.len() >= 2, "{months:?}");
    for month in &months {
        client
            .query(&format!(
                "INSERT INTO events SELECT * FROM {}.events WHERE toYYYYMM(ts) = {month}",
                old.db
            ))
            .execute()
            .await
            .expect("copy a month");
    }
    let new = Traffic::over(db, client, old.now).await;
    let goals = first_goals();
    for step in ["rollups", "sealed days"] {
        if step == "sealed days" {
            old.seal_all(&goals).await;
            new.seal_all(&goals).await;
        }
        old.reader.forget_sealed_days();
        new.reader.forget_sealed_days();
        let mut asked = 0;
        for (site, _, _) in SITES {
            for mut body in queries(site, old.now) {
                body["site_id"] = json!(site);
                let request: Request = serde_json::from_value(body.clone()).expect("request");
                let query = parse(&request, &old.sites, &goals, old.now).expect("valid");
                let before = run(&old.reader, &query).await.expect("old node");
                let after = run(&new.reader, &query).await.expect("copy");
                assert_eq!(after.source, before.source, "{step}: {body}");
                assert_eq!(after.rows, before.rows, "{step}: {body}");
                assert_eq!(after.total_rows, before.total_rows, "{step}: {body}");
                assert!(!before.rows.is_empty(), "{step}: {body}: no rows");
                asked += 1;
            }
        }
        assert_eq!(asked, 3 * queries("paris", old.now).len(), "{step}");
    }
}
