//! Migrations against a real ClickHouse engine (the local server).

use clickhouse::Client;
use mesure_schema::{
    MIGRATIONS, MIGRATIONS_TABLE, MigrateError, Migrator, Retention, Target, latest_version,
};
use mesure_testkit::{LocalClickHouse, repo_root};

const GOLDEN_DATABASE: &str = "mesure";

fn migrator(database: &str, months: u32) -> Migrator {
    Migrator::new(
        LocalClickHouse::shared().client(),
        Target::new(database, None).expect("valid target"),
        Retention::months(months).expect("valid retention"),
    )
}

fn client() -> Client {
    LocalClickHouse::shared().client()
}

/// `SHOW CREATE TABLE` of every table, with the test database renamed.
async fn show_create_all(database: &str) -> String {
    let tables: Vec<String> = client()
        .query("SELECT name FROM system.tables WHERE database = ? ORDER BY name")
        .bind(database)
        .fetch_all()
        .await
        .expect("list tables");
    let mut out = String::new();
    for table in tables {
        let create: String = client()
            .query(&format!("SHOW CREATE TABLE {database}.{table}"))
            .fetch_one()
            .await
            .expect("show create");
        out.push_str(&create.replace(&format!("{database}."), &format!("{GOLDEN_DATABASE}.")));
        out.push_str(";\n\n");
    }
    out
}

fn check_golden(name: &str, actual: &str) {
    mesure_testkit::golden::check(&repo_root().join("schema/tests/golden").join(name), actual);
}

#[tokio::test]
async fn migrations_apply_once_and_match_the_golden_schema() {
    let db = LocalClickHouse::unique_database("migrate_twice");
    let first = migrator(&db, 6).migrate().await.expect("first run");
    let all: Vec<u32> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(first.applied, all);
    let schema = show_create_all(&db).await;

    let second = migrator(&db, 6).migrate().await.expect("second run");
    assert_eq!(
        second,
        Default::default(),
        "a second run must change nothing"
    );
    assert_eq!(show_create_all(&db).await, schema);
    assert_eq!(migrator(&db, 6).applied().await.expect("applied"), all);

    check_golden("single_node.sql", &schema);
}

#[tokio::test]
async fn raw_tables_carry_a_delete_ttl_at_the_default_retention() {
    let db = LocalClickHouse::unique_database("ttl_default");
    migrator(&db, Retention::DEFAULT.as_months())
        .migrate()
        .await
        .expect("migrate");
    for table in ["events", "sessions", "hourly_stats"] {
        let create: String = client()
            .query(&format!("SHOW CREATE TABLE {db}.{table}"))
            .fetch_one()
            .await
            .expect("show create");
        assert!(create.contains("toIntervalMonth(6)"), "{table}: {create}");
    }
    let salts: String = client()
        .query(&format!("SHOW CREATE TABLE {db}.salts"))
        .fetch_one()
        .await
        .expect("show create");
    assert!(
        salts.contains("TTL toDateTime(day, 'UTC') + toIntervalDay(2)"),
        "{salts}"
    );
}

#[tokio::test]
async fn changing_the_retention_rewrites_ttls_and_forced_expiry_deletes_old_rows() {
    let db = LocalClickHouse::unique_database("retention");
    migrator(&db, 25)
        .migrate()
        .await
        .expect("migrate at 25 months");
    // Rows 10 months old (kept at 25 months, past 6) and one day old.
    client()
        .query(&format!(
            "INSERT INTO {db}.events (site_id, ts, kind, visitor_id, session_id, session_start, path) \
             SELECT 'site', ts, 'pageview', number, number, toDateTime(ts), '/' FROM ( \
               SELECT number, now64(3, 'UTC') - toIntervalMonth(10) - toIntervalSecond(number) AS ts \
               FROM numbers(300) \
               UNION ALL \
               SELECT number + 1000, now64(3, 'UTC') - toIntervalDay(1) FROM numbers(200))"
        ))
        .execute()
        .await
        .expect("insert");
    let count = |table: &'static str| {
        let db = db.clone();
        async move {
            client()
                .query(&format!("SELECT uniqExact(session_id) FROM {db}.{table}"))
                .fetch_one::<u64>()
                .await
                .expect("count")
        }
    };
    assert_eq!(count("events").await, 500);
    assert_eq!(count("sessions").await, 500);

    let report = migrator(&db, 6)
        .migrate()
        .await
        .expect("migrate at 6 months");
    assert!(report.applied.is_empty());
    assert_eq!(
        report.retention_changed,
        [
            "annotations",
            "daily_breakdowns",
            "events",
            "hourly_stats",
            "hourly_totals",
            "sealed_days",
            "sealed_figures",
            "sessions"
        ]
    );
    let create: String = client()
        .query(&format!("SHOW CREATE TABLE {db}.events"))
        .fetch_one()
        .await
        .expect("show create");
    assert!(
        create.contains("TTL toDateTime(ts) + toIntervalMonth(6)"),
        "{create}"
    );
    // The audit log keeps its twelve months whatever the retention.
    let audit: String = client()
        .query(&format!("SHOW CREATE TABLE {db}.audit"))
        .fetch_one()
        .await
        .expect("show create");
    assert!(
        audit.contains("TTL toDateTime(at) + toIntervalYear(1)"),
        "{audit}"
    );

    let expiry = migrator(&db, 6).expire().await.expect("expire");
    assert!(!expiry.dropped.is_empty(), "{expiry:?}");
    assert_eq!(count("events").await, 200);
    assert_eq!(count("sessions").await, 200);
    let oldest_left: i64 = client()
        .query(&format!(
            "SELECT dateDiff('day', min(ts), now64(3, 'UTC')) FROM {db}.events"
        ))
        .fetch_one()
        .await
        .expect("oldest");
    assert!(oldest_left <= 1, "{oldest_left} days");
}

#[tokio::test]
async fn a_database_with_foreign_tables_is_refused() {
    let db = LocalClickHouse::unique_database("foreign");
    client()
        .query(&format!("CREATE DATABASE {db}"))
        .execute()
        .await
        .expect("create db");
    client()
        .query(&format!(
            "CREATE TABLE {db}.visits (x UInt8) ENGINE = Memory"
        ))
        .execute()
        .await
        .expect("create table");
    let error = migrator(&db, 6).migrate().await.expect_err("must refuse");
    assert!(
        matches!(error, MigrateError::Unrecognised { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("visits"), "{error}");
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let db = LocalClickHouse::unique_database("newer");
    migrator(&db, 6).migrate().await.expect("migrate");
    let future = latest_version() + 1;
    client()
        .query(&format!(
            "INSERT INTO {db}.{MIGRATIONS_TABLE} (version, name, checksum) VALUES ({future}, 'future', '')"
        ))
        .execute()
        .await
        .expect("insert");
    let error = migrator(&db, 6).migrate().await.expect_err("must refuse");
    assert!(
        matches!(error, MigrateError::Newer { found, .. } if found == future),
        "{error}"
    );
}

#[tokio::test]
async fn a_changed_migration_is_refused() {
    let db = LocalClickHouse::unique_database("changed");
    migrator(&db, 6).migrate().await.expect("migrate");
    client()
        .query(&format!(
            "ALTER TABLE {db}.{MIGRATIONS_TABLE} UPDATE checksum = 'edited' WHERE version = 2"
        ))
        .with_setting("mutations_sync", "2")
        .execute()
        .await
        .expect("alter");
    let error = migrator(&db, 6).migrate().await.expect_err("must refuse");
    assert!(
        matches!(error, MigrateError::Changed { version: 2, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn the_cluster_rendering_is_valid_clickhouse_sql_and_matches_its_golden_file() {
    let plan = Migrator::new(
        client(),
        Target::new(GOLDEN_DATABASE, Some("mesure_cluster")).expect("valid target"),
        Retention::DEFAULT,
    )
    .plan()
    .expect("plan");
    let mut rendered = String::new();
    for statement in &plan {
        // The engine's own parser checks every statement without running it.
        let formatted: String = client()
            .query("SELECT formatQuery({sql:String})")
            .param("sql", statement)
            .fetch_one()
            .await
            .unwrap_or_else(|e| panic!("{statement}\n{e}"));
        rendered.push_str(&formatted);
        rendered.push_str(";\n\n");
    }
    assert!(rendered.contains("ReplicatedMergeTree"));
    assert!(
        rendered.contains("ENGINE = Distributed(mesure_cluster, mesure, events_local, session_id)")
    );
    check_golden("cluster.sql", &rendered);
}

#[tokio::test]
async fn forced_expiry_destroys_salts_past_48_hours() {
    let db = LocalClickHouse::unique_database("salt_expiry");
    migrator(&db, 6).migrate().await.expect("migrate");
    // Salts that aged past their TTL without a merge: written while the
    // table has no TTL (an insert drops what is already expired), the TTL
    // put back without applying it. Days as the engine sees them: this
    // test holds on any date.
    for statement in [
        format!("ALTER TABLE {db}.salts REMOVE TTL"),
        format!(
            "INSERT INTO {db}.salts (day, salt, created_at) \
             SELECT today() - number, toFixedString(toString(number), 16), now64(3) FROM numbers(5)"
        ),
        format!(
            "ALTER TABLE {db}.salts MODIFY TTL toDateTime(day, 'UTC') + toIntervalDay(2) \
             SETTINGS materialize_ttl_after_modify = 0"
        ),
    ] {
        client()
            .query(&statement)
            .execute()
            .await
            .expect(&statement);
    }
    let expiry = migrator(&db, 6).expire().await.expect("expire");
    // Today's and yesterday's salts are kept; the day before yesterday's
    // is 48 hours old at midnight, and older ones too.
    assert_eq!(expiry.salts, 3, "{expiry:?}");
    let left: Vec<i64> = client()
        .query(&format!(
            "SELECT dateDiff('day', day, today()) AS age FROM {db}.salts ORDER BY age"
        ))
        .fetch_all()
        .await
        .expect("left");
    assert_eq!(left, [0, 1]);
}
