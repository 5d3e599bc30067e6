//! The monitoring files of `deploy/` checked with the tools operators run
//! them with: `promtool` on the alert rules (and their unit tests), on live
//! scrapes of a running collector and dashboard, and on every query of the
//! Grafana dashboard; and every Mesure metric the rules and the dashboard
//! name is one the services export.

use mesure_testkit::LocalClickHouse;
use mesure_testkit::http::{browser_request, raw_request, try_request};
use std::collections::BTreeSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

fn deploy(path: &str) -> PathBuf {
    mesure_testkit::repo_root().join("deploy").join(path)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs promtool (Debian's prometheus package, installed by scripts/setup.sh).
fn promtool(args: &[&str], input: Option<&str>, dir: &Path) -> Output {
    let mut child = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package, installed by scripts/setup.sh)");
    if let (Some(mut stdin), Some(input)) = (child.stdin.take(), input) {
        stdin.write_all(input.as_bytes()).expect("promtool input");
    }
    child.wait_with_output().expect("promtool output")
}

fn assert_success(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what}:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn alert_rules_are_valid_and_pass_their_unit_tests() {
    let dir = deploy("prometheus");
    let out = promtool(&["check", "rules", "alerts.yml"], None, &dir);
    assert_success("promtool check rules", &out);
    let out = promtool(&["test", "rules", "alerts.test.yml"], None, &dir);
    assert_success("promtool test rules", &out);
    // Every alert the issue of operations asks for has a test.
    let tests = std::fs::read_to_string(dir.join("alerts.test.yml")).expect("tests");
    let rules = std::fs::read_to_string(dir.join("alerts.yml")).expect("rules");
    for line in rules.lines() {
        if let Some(name) = line.trim().strip_prefix("- alert: ") {
            assert!(
                tests.contains(&format!("alertname: {name}")),
                "{name} has no unit test"
            );
        }
    }
}

/// Every `mesure_*` metric a text names, without histogram suffixes.
fn mesure_metrics(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("mesure_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(&name);
        names.insert(base.to_owned());
    }
    names
}

/// The metric families a scrape declares.
fn declared(scrape: &str) -> BTreeSet<String> {
    scrape
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn value(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok())?
    })
}

/// The Grafana dashboard's queries, with its variables given a value.
fn grafana_queries() -> Vec<String> {
    let path = deploy("grafana/mesure.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("dashboard")).expect("JSON");
    assert_eq!(dashboard["uid"], "mesure-operations");
    let panels = dashboard["panels"].as_array().expect("panels");
    let ids: BTreeSet<u64> = panels.iter().filter_map(|p| p["id"].as_u64()).collect();
    assert_eq!(ids.len(), panels.len(), "panel ids are unique");
    let variables: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .expect("variables")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    let mut queries = Vec::new();
    for panel in panels {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("expr");
            assert_eq!(target["datasource"]["uid"], "${datasource}", "{expr}");
            for variable in expr.split('$').skip(1) {
                let name: String = variable
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                assert!(
                    name == "__rate_interval" || variables.contains(&name.as_str()),
                    "{expr} uses ${name}, not a variable of the dashboard"
                );
            }
            queries.push(
                expr.replace("$__rate_interval", "5m")
                    .replace("$collector", ".*"),
            );
        }
    }
    assert!(queries.len() > 20, "{queries:?}");
    queries
}

/// A service process, killed when the test ends.
struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

fn mesure(args: &[&str], vars: &[(&str, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mesure"));
    command
        .args(args)
        .env_clear()
        .env("MESURE_LOG", "warn")
        .envs(vars.iter().map(|(k, v)| (k, v)));
    command
}

fn run(args: &[&str], vars: &[(&str, String)]) -> String {
    let out = mesure(args, vars).output().expect("run mesure");
    assert_success(&format!("mesure {args:?}"), &out);
    text(&out.stdout)
}

fn get(addr: SocketAddr, path: &str, extra: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let method = if body.is_empty() { "GET" } else { "POST" };
    let answer = raw_request(addr, &browser_request(method, path, extra, body));
    (answer.status, text(&answer.body))
}

fn wait_ready(addr: SocketAddr) {
    for _ in 0..400 {
        let ready = try_request(addr, &browser_request("GET", "/readyz", &[], b""));
        if ready.is_some_and(|a| a.status == 200) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{addr} did not become ready");
}

#[test]
fn live_scrapes_pass_promtool_and_hold_every_metric_the_rules_and_dashboard_use() {
    let db = LocalClickHouse::unique_database("deploy_scrape");
    let dir = std::env::temp_dir().join(&db);
    std::fs::create_dir_all(&dir).expect("temporary folder");
    let (collector, dashboard) = (free_addr(), free_addr());
    let vars = [
        (
            "MESURE_CLICKHOUSE_URL",
            LocalClickHouse::shared().url().to_owned(),
        ),
        ("MESURE_CLICKHOUSE_DATABASE", db.clone()),
        (
            "MESURE_ACCOUNTS_URL",
            format!("sqlite://{}", dir.join("accounts.sqlite").display()),
        ),
        ("MESURE_SPOOL_DIR", dir.join("spool").display().to_string()),
        ("MESURE_COLLECTOR_LISTEN", collector.to_string()),
        ("MESURE_COLLECTOR_SITES_REFRESH_SECONDS", "1".to_owned()),
        ("MESURE_DASHBOARD_LISTEN", dashboard.to_string()),
        ("MESURE_DASHBOARD_SITES_REFRESH_SECONDS", "1".to_owned()),
        // The expiry comes from `mesure expire`, as with a systemd timer.
        ("MESURE_DASHBOARD_DAILY_EXPIRY", "false".to_owned()),
        (
            "MESURE_GEOIP_DATABASES",
            format!(
                "[\"{}\"]",
                mesure_testkit::geoip_dir()
                    .join("GeoLite2-City.mmdb")
                    .display()
            ),
        ),
    ];
    run(&["migrate"], &vars);
    let before = chrono::Utc::now().timestamp();
    run(&["expire"], &vars);
    run(&["site", "put", "mairie", "--host", "mairie.fr"], &vars);
    run(&["user", "add", "ops@mairie.fr", "--no-password"], &vars);
    run(
        &[
            "user",
            "grant",
            "ops@mairie.fr",
            "--site",
            "mairie",
            "--role",
            "viewer",
        ],
        &vars,
    );
    let token = run(
        &[
            "token",
            "add",
            "ops@mairie.fr",
            "--name",
            "check",
            "--site",
            "mairie",
        ],
        &vars,
    );

    // Not running yet: the health check fails, with the address it tried.
    let out = mesure(&["health", "collector"], &vars)
        .output()
        .expect("health");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains(&collector.to_string()));

    let spawn = |service: &str| {
        Service(
            mesure(&[service], &vars)
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start"),
        )
    };
    let _collector = spawn("collector");
    let _dashboard = spawn("dashboard");
    wait_ready(collector);
    wait_ready(dashboard);
    for service in ["collector", "dashboard"] {
        for ready in [false, true] {
            let args: &[&str] = if ready {
                &["health", service, "--ready"]
            } else {
                &["health", service]
            };
            run(args, &vars);
        }
    }

    // Traffic, so that every labelled family has a series.
    let (status, _) = get(
        collector,
        "/p.gif?s=mairie&u=https%3A%2F%2Fmairie.fr%2F",
        &[("Referer", "https://mairie.fr/")],
        b"",
    );
    assert_eq!(status, 200);
    let bearer = format!("Bearer {}", token.trim());
    let (status, body) = get(
        dashboard,
        "/api/v2/query",
        &[
            ("Authorization", &bearer),
            ("Content-Type", "application/json"),
        ],
        br#"{"site_id":"mairie","metrics":["visitors"],"date_range":"7d"}"#,
    );
    assert_eq!(status, 200, "{body}");

    let mut scrapes = Vec::new();
    for (name, addr) in [("collector", collector), ("dashboard", dashboard)] {
        let (status, scrape) = get(addr, "/metrics", &[], b"");
        assert_eq!(status, 200);
        let out = promtool(&["check", "metrics"], Some(&scrape), &dir);
        assert_success(&format!("promtool check metrics on the {name}"), &out);
        scrapes.push(scrape);
    }
    let exported: BTreeSet<String> = scrapes.iter().flat_map(|s| declared(s)).collect();

    // The run of `mesure expire` shows on the dashboard (it reads the
    // accounts store when it starts, then every 15 minutes).
    let last = value(&scrapes[1], "mesure_expiry_last_run_timestamp_seconds").unwrap_or(0.0);
    assert!(
        last as i64 >= before && last as i64 <= chrono::Utc::now().timestamp(),
        "last expiry {last}, run after {before}"
    );

    let rules = std::fs::read_to_string(deploy("prometheus/alerts.yml")).expect("rules");
    let queries = grafana_queries();
    let used: BTreeSet<String> = mesure_metrics(&rules)
        .into_iter()
        .chain(queries.iter().flat_map(|q| mesure_metrics(q)))
        .collect();
    assert!(used.len() > 15, "{used:?}");
    let missing: Vec<&String> = used.difference(&exported).collect();
    assert!(missing.is_empty(), "used but not exported: {missing:?}");

    // Every query of the Grafana dashboard is valid PromQL: promtool checks
    // them as recording rules.
    let mut rules = String::from("groups:\n  - name: grafana\n    rules:\n");
    for (i, query) in queries.iter().enumerate() {
        let quoted = serde_json::to_string(query).expect("quoted");
        rules.push_str(&format!(
            "      - record: grafana_query_{i}\n        expr: {quoted}\n"
        ));
    }
    let file = dir.join("grafana-queries.yml");
    std::fs::write(&file, rules).expect("rules file");
    let out = promtool(&["check", "rules", &file.display().to_string()], None, &dir);
    assert_success("promtool check rules on the Grafana queries", &out);
}
