//! The `mesure` binary, run as an operator runs it.

use mesure_testkit::LocalClickHouse;
use std::process::{Command, Output};

fn mesure(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mesure"))
        .args(args)
        .env("MESURE_CLICKHOUSE_URL", LocalClickHouse::shared().url())
        .env_remove("MESURE_RETENTION_MONTHS")
        .output()
        .expect("run mesure")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_command_has_help() {
    for args in [
        &["--help"][..],
        &["migrate", "--help"],
        &["expire", "--help"],
    ] {
        let out = mesure(args);
        assert!(out.status.success(), "{args:?}");
        assert!(text(&out.stdout).contains("Usage: mesure"), "{args:?}");
    }
}

#[test]
fn a_retention_of_26_months_is_refused_with_a_clear_message() {
    let out = mesure(&["migrate", "--retention-months", "26"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("retention of 26 months refused"),
        "{stderr}"
    );
    assert!(stderr.contains("between 1 and 25 months"), "{stderr}");
}

#[test]
fn migrate_then_expire_against_the_local_clickhouse() {
    let db = LocalClickHouse::unique_database("cli");
    for _ in 0..2 {
        let out = mesure(&["migrate", "--database", &db, "--retention-months", "13"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let out = mesure(&["expire", "--database", &db, "--retention-months", "13"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = mesure(&["migrate", "--database", "bad-name"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("invalid name"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn print_shows_the_cluster_rendering_without_a_server() {
    let out = Command::new(env!("CARGO_BIN_EXE_mesure"))
        .args([
            "migrate",
            "--print",
            "--cluster",
            "prod",
            "--clickhouse-url",
            "http://127.0.0.1:9",
        ])
        .output()
        .expect("run mesure");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let sql = text(&out.stdout);
    assert!(
        sql.contains("CREATE TABLE IF NOT EXISTS mesure.events_local ON CLUSTER prod"),
        "{sql}"
    );
    assert!(
        sql.contains("ENGINE = Distributed(prod, mesure, events_local, session_id)"),
        "{sql}"
    );
}
