//! The daily forced expiry run by the dashboard: after the retention was
//! lowered and before any TTL merge, one replica deletes the events past
//! the retention and the salts past 48 hours, once a day (a second
//! replica on the same accounts store does not run it again), and the
//! metric says when it last ran. Rows are dated by the engine's own clock
//! (`now()`), so the test holds on any date. On SQLite and PostgreSQL.

mod common;

use common::*;
use mesure_schema::{Migrator, Retention, Target};
use mesure_testkit::LocalClickHouse;

fn migrator(db: &str, months: u32) -> Migrator {
    Migrator::new(
        LocalClickHouse::shared().client(),
        Target::new(db, None).expect("target"),
        Retention::months(months).expect("retention"),
    )
}

/// A metric's value in a text exposition.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// A metric of `dashboard` once it is above zero (or zero after 30 s).
async fn once_set(dashboard: &Dashboard, name: &str) -> f64 {
    for _ in 0..300 {
        let value = metric(&dashboard.metrics().await, name);
        if value > 0.0 {
            return value;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    0.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_a_day_deletes_what_is_past_the_retention() {
    for engine in ENGINES {
        let db = LocalClickHouse::unique_database("daily_expiry");
        migrator(&db, 25)
            .migrate()
            .await
            .expect("migrate at 25 months");
        let client = LocalClickHouse::shared().client().with_database(&db);
        for statement in [
            // Visits 10 months old (kept at 25 months) and a day old.
            "INSERT INTO events (site_id, ts, kind, visitor_id, session_id, session_start, path) \
             SELECT 'site', ts, 'pageview', number, number, toDateTime(ts), '/' FROM ( \
               SELECT number, now64(3, 'UTC') - toIntervalMonth(10) - toIntervalSecond(number) AS ts \
               FROM numbers(300) \
               UNION ALL \
               SELECT number + 1000, now64(3, 'UTC') - toIntervalDay(1) FROM numbers(200))",
            // Salts of the last five days, aged past their TTL without a merge.
            "ALTER TABLE salts REMOVE TTL",
            "INSERT INTO salts (day, salt, created_at) \
             SELECT today() - number, toFixedString(toString(number), 16), now64(3) FROM numbers(5)",
            "ALTER TABLE salts MODIFY TTL toDateTime(day, 'UTC') + toIntervalDay(2) \
             SETTINGS materialize_ttl_after_modify = 0",
        ] {
            client.query(statement).execute().await.expect(statement);
        }
        // The TTLs lowered to 6 months, as no merge has applied them yet.
        let tables: Vec<(String, String)> = client
            .query(
                "SELECT name, engine_full FROM system.tables \
                 WHERE database = currentDatabase() AND position(engine_full, 'toIntervalMonth(25)') > 0",
            )
            .fetch_all()
            .await
            .expect("tables");
        for (table, engine_full) in tables {
            let ttl = engine_full
                .split(" TTL ")
                .nth(1)
                .and_then(|t| t.split(" SETTINGS ").next())
                .expect("a TTL")
                .replace("toIntervalMonth(25)", "toIntervalMonth(6)");
            client
                .query(&format!(
                    "ALTER TABLE {table} MODIFY TTL {ttl} SETTINGS materialize_ttl_after_modify = 0"
                ))
                .execute()
                .await
                .expect("ttl");
        }
        let count = |table: &'static str| {
            let client = client.clone();
            async move {
                client
                    .query(&format!("SELECT uniqExact(session_id) FROM {table}"))
                    .fetch_one::<u64>()
                    .await
                    .expect("count")
            }
        };
        assert_eq!(count("events").await, 500);

        let store = accounts_on(engine).await;
        let first = dashboard_configured(
            client.clone(),
            store.clone(),
            Extras {
                expiry: Some(migrator(&db, 6)),
                ..Extras::default()
            },
        )
        .await;
        let done = once_set(&first, "mesure_expiry_runs_total{result=\"done\"}").await;
        assert_eq!(done, 1.0, "{engine:?}: the expiry ran once");
        assert_eq!(count("events").await, 200);
        assert_eq!(count("sessions").await, 200);
        let salts: Vec<i64> = client
            .query("SELECT dateDiff('day', day, today()) AS age FROM salts ORDER BY age")
            .fetch_all()
            .await
            .expect("salts");
        assert_eq!(salts, [0, 1]);

        // Another replica, the same day: it does not run it again, and
        // says when it last ran.
        let second = dashboard_configured(
            client.clone(),
            store.clone(),
            Extras {
                expiry: Some(migrator(&db, 6)),
                ..Extras::default()
            },
        )
        .await;
        let last_run = once_set(&second, "mesure_expiry_last_run_timestamp_seconds").await;
        let now_s = mesure_testkit::clock::real_now_ms() as f64 / 1000.0;
        assert!(last_run > now_s - 600.0 && last_run <= now_s, "{last_run}");
        let text = second.metrics().await;
        assert_eq!(
            metric(&text, "mesure_expiry_runs_total{result=\"done\"}"),
            0.0
        );
        first.stop();
        second.stop();
    }
}
