//! The `mesure` binary, run as an operator runs it.

use mesure_testkit::LocalClickHouse;
use mesure_testkit::postgres::LocalPostgres;
use std::io::Write;
use std::process::{Command, Output, Stdio};

/// A SQLite accounts store of its own, in a temporary folder.
fn sqlite_store(name: &str) -> String {
    let dir = std::env::temp_dir().join(LocalClickHouse::unique_database(name));
    std::fs::create_dir_all(&dir).expect("temporary folder");
    format!("sqlite://{}", dir.join("accounts.sqlite").display())
}

fn command(args: &[&str], vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mesure"));
    command.args(args).env_clear().env("MESURE_LOG", "warn");
    command.env("MESURE_CLICKHOUSE_URL", LocalClickHouse::shared().url());
    command.env("MESURE_ACCOUNTS_URL", sqlite_store("cli_accounts"));
    for (name, value) in vars {
        command.env(name, value);
    }
    command
}

fn mesure(args: &[&str], vars: &[(&str, &str)]) -> Output {
    command(args, vars).output().expect("run mesure")
}

/// Runs `mesure` with `input` on its standard input.
fn mesure_with_input(args: &[&str], vars: &[(&str, &str)], input: &str) -> Output {
    let mut child = command(args, vars)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mesure");
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("mesure output")
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
        &["collector", "--help"],
        &["dashboard", "--help"],
        &["site", "--help"],
        &["site", "put", "--help"],
        &["goal", "--help"],
        &["goal", "put", "--help"],
        &["config", "--help"],
        &["demo-data", "--help"],
        &["seal", "--help"],
    ] {
        let out = mesure(args, &[]);
        assert!(out.status.success(), "{args:?}");
        assert!(text(&out.stdout).contains("Usage: mesure"), "{args:?}");
    }
}

#[test]
fn a_retention_of_26_months_is_refused_with_a_clear_message() {
    let out = mesure(&["migrate"], &[("MESURE_RETENTION_MONTHS", "26")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("retention of 26 months refused"),
        "{stderr}"
    );
    assert!(stderr.contains("between 1 and 25 months"), "{stderr}");
}

#[test]
fn unknown_settings_are_refused_by_name() {
    let out = mesure(&["config"], &[("MESURE_COLLECTOR_LISTN", "127.0.0.1:1")]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("listn"), "{}", text(&out.stderr));
}

#[test]
fn config_prints_the_applied_settings_without_the_password() {
    let out = mesure(
        &["config"],
        &[
            ("MESURE_CLICKHOUSE_PASSWORD", "s3cret"),
            ("MESURE_RETENTION_MONTHS", "13"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("months = 13"), "{stdout}");
    assert!(!stdout.contains("s3cret"), "{stdout}");
}

#[test]
fn demo_data_then_seal_seals_every_finished_day_once() {
    let db = LocalClickHouse::unique_database("cli_seal");
    let vars = [("MESURE_CLICKHOUSE_DATABASE", db.as_str())];
    for args in [
        &["migrate"][..],
        &[
            "demo-data",
            "--sites",
            "2",
            "--days",
            "6",
            "--events",
            "4000",
        ],
    ] {
        let out = mesure(args, &vars);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
    let logged = [
        ("MESURE_CLICKHOUSE_DATABASE", db.as_str()),
        ("MESURE_LOG", "info"),
    ];
    let out = mesure(&["seal"], &logged);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let days: Vec<(String, u64)> = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(
            LocalClickHouse::shared()
                .client()
                .with_database(&db)
                .query("SELECT site_id, uniqExact(day) FROM sealed_days GROUP BY site_id ORDER BY site_id")
                .fetch_all(),
        )
        .expect("sealed days");
    // Six days ending yesterday; yesterday is sealed an hour after it ends.
    assert_eq!(days.len(), 2, "{days:?}");
    for (site, count) in &days {
        assert!((5..=6).contains(count), "{site}: {count}");
    }
    // Nothing changed: nothing to seal again.
    let out = mesure(&["seal"], &logged);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("days=0"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn migrate_expire_and_sites_against_the_local_clickhouse() {
    let db = LocalClickHouse::unique_database("cli");
    let vars = [
        ("MESURE_CLICKHOUSE_DATABASE", db.as_str()),
        ("MESURE_RETENTION_MONTHS", "13"),
    ];
    for _ in 0..2 {
        let out = mesure(&["migrate"], &vars);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let out = mesure(&["expire"], &vars);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = mesure(
        &[
            "site",
            "put",
            "mairie",
            "--host",
            "mairie.fr",
            "--host",
            "*.mairie.fr",
            "--event",
            "Inscription",
        ],
        &vars,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Its privacy notice says what the configuration says.
    let out = mesure(&["notice", "mairie", "--lang", "en"], &vars);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let notice = text(&out.stdout);
    assert!(
        notice.starts_with("## Audience measurement")
            && notice.contains("kept 13 months")
            && notice.contains("the events the site measures: Inscription"),
        "{notice}"
    );
    let out = mesure(&["notice", "mairie", "--format", "html"], &vars);
    assert!(text(&out.stdout).starts_with("<h2>Mesure d'audience</h2>"));
    assert!(!mesure(&["notice", "nowhere"], &vars).status.success());
    let out = mesure(
        &[
            "site",
            "put",
            "bad",
            "--host",
            "x.fr",
            "--time-zone",
            "Mars/Olympus",
        ],
        &vars,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("Mars/Olympus"),
        "{}",
        text(&out.stderr)
    );
    let out = mesure(
        &[
            "site",
            "put",
            "bad",
            "--host",
            "x.fr",
            "--param",
            "utm_source",
        ],
        &vars,
    );
    assert!(
        text(&out.stderr).contains("consent mode"),
        "{}",
        text(&out.stderr)
    );
    let out = mesure(&["site", "list"], &vars);
    let listed = text(&out.stdout);
    assert!(
        listed.starts_with("mairie\texempt\tEurope/Paris\thosts=mairie.fr,*.mairie.fr"),
        "{listed}"
    );
    assert_eq!(listed.lines().count(), 1, "{listed}");
    let out = mesure(
        &[
            "goal",
            "put",
            "mairie",
            "Inscription",
            "--page",
            "/inscription/**",
        ],
        &vars,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = mesure(
        &[
            "goal",
            "put",
            "mairie",
            "Formulaire",
            "--event",
            "Formulaire envoyé",
        ],
        &vars,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = mesure(
        &["goal", "put", "mairie", "Mauvais", "--page", "sans-barre"],
        &vars,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("sans-barre"),
        "{}",
        text(&out.stderr)
    );
    let out = mesure(&["goal", "remove", "mairie", "Formulaire"], &vars);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&mesure(&["goal", "list", "mairie"], &vars).stdout),
        "mairie\tInscription\tpage=/inscription/**\n"
    );
    let out = mesure(&["site", "remove", "mairie"], &vars);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&mesure(&["site", "list"], &vars).stdout), "");

    let out = mesure(&["migrate"], &[("MESURE_CLICKHOUSE_DATABASE", "bad-name")]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("invalid name"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn print_shows_the_cluster_rendering_without_a_server() {
    let out = mesure(
        &["migrate", "--print"],
        &[
            ("MESURE_CLICKHOUSE_CLUSTER", "prod"),
            ("MESURE_CLICKHOUSE_URL", "http://127.0.0.1:9"),
        ],
    );
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

#[test]
fn users_and_roles_from_the_command_line_on_sqlite_and_postgresql() {
    for url in [
        sqlite_store("cli_users"),
        LocalPostgres::shared().database("cli_users"),
    ] {
        let vars = [("MESURE_ACCOUNTS_URL", url.as_str())];
        // The password from standard input, never from the command line.
        let out = mesure_with_input(
            &[
                "user",
                "add",
                "Root@Mairie.fr",
                "--superuser",
                "--name",
                "Root",
            ],
            &vars,
            "a long enough secret\n",
        );
        assert!(out.status.success(), "{url}: {}", text(&out.stderr));
        let file = std::env::temp_dir().join(LocalClickHouse::unique_database("password"));
        std::fs::write(&file, "another long secret\n").expect("password file");
        let out = mesure(
            &[
                "user",
                "add",
                "ana@mairie.fr",
                "--password-file",
                &file.display().to_string(),
            ],
            &vars,
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let _ = std::fs::remove_file(&file);
        let out = mesure(&["user", "add", "sso@mairie.fr", "--no-password"], &vars);
        assert!(out.status.success(), "{}", text(&out.stderr));
        for (args, says) in [
            (
                &["user", "add", "ana@mairie.fr", "--no-password"][..],
                "already uses",
            ),
            (
                &["user", "add", "not-an-address", "--no-password"][..],
                "not an e-mail address",
            ),
            (
                &[
                    "user",
                    "grant",
                    "ana@mairie.fr",
                    "--site",
                    "a",
                    "--role",
                    "owner",
                ][..],
                "not a role",
            ),
            (
                &[
                    "user",
                    "grant",
                    "nobody@mairie.fr",
                    "--site",
                    "a",
                    "--role",
                    "viewer",
                ][..],
                "no account",
            ),
        ] {
            let out = mesure(args, &vars);
            assert!(!out.status.success(), "{args:?}");
            assert!(
                text(&out.stderr).contains(says),
                "{args:?}: {}",
                text(&out.stderr)
            );
        }
        let out = mesure_with_input(&["user", "add", "bob@mairie.fr"], &vars, "short\n");
        assert!(
            text(&out.stderr).contains("at least 12"),
            "{}",
            text(&out.stderr)
        );

        for args in [
            &[
                "user",
                "grant",
                "ana@mairie.fr",
                "--site",
                "mairie",
                "--role",
                "viewer",
            ][..],
            &[
                "user",
                "grant",
                "ana@mairie.fr",
                "--organisation",
                "Ville de Démo",
                "--role",
                "admin",
            ][..],
            &["user", "disable", "sso@mairie.fr"][..],
        ] {
            let out = mesure(args, &vars);
            assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        }
        let out = mesure(&["user", "list"], &vars);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout),
            "ana@mairie.fr\tuser\torganisation:Ville de Démo=admin,site:mairie=viewer\n\
             root@mairie.fr\tsuperuser\tname=Root\t\n\
             sso@mairie.fr\tuser\tdisabled\t\n",
            "{url}"
        );
        let out = mesure(
            &["user", "revoke", "ana@mairie.fr", "--site", "mairie"],
            &vars,
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let out = mesure(&["user", "list"], &vars);
        assert!(
            text(&out.stdout)
                .starts_with("ana@mairie.fr\tuser\torganisation:Ville de Démo=admin\n")
        );
        // No password, secret or hash in what the commands print.
        let hidden = [
            (
                "MESURE_ACCOUNTS_URL",
                "postgres://mesure:s3cret@db.example/mesure",
            ),
            ("MESURE_OIDC_CLIENT_SECRET", "s3cret"),
        ];
        for out in [
            mesure(&["user", "list"], &vars),
            mesure(&["config"], &hidden),
        ] {
            let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
            assert!(out.status.success(), "{all}");
            for secret in [
                "a long enough secret",
                "another long secret",
                "s3cret",
                "argon2",
            ] {
                assert!(!all.contains(secret), "{all}");
            }
        }
    }
}

#[test]
fn api_tokens_from_the_command_line() {
    let db = LocalClickHouse::unique_database("cli_tokens");
    let store = sqlite_store("cli_tokens");
    let vars = [
        ("MESURE_CLICKHOUSE_DATABASE", db.as_str()),
        ("MESURE_ACCOUNTS_URL", store.as_str()),
    ];
    for args in [
        &["migrate"][..],
        &["site", "put", "mairie", "--host", "mairie.fr"][..],
        &["site", "put", "autre", "--host", "autre.fr"][..],
        &["user", "add", "dev@mairie.fr", "--no-password"][..],
        &[
            "user",
            "grant",
            "dev@mairie.fr",
            "--site",
            "mairie",
            "--role",
            "viewer",
        ][..],
    ] {
        let out = mesure(args, &vars);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
    let out = mesure(
        &[
            "token",
            "add",
            "dev@mairie.fr",
            "--name",
            "Grafana",
            "--site",
            "mairie",
        ],
        &vars,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let secret = text(&out.stdout).trim().to_owned();
    assert!(
        secret.starts_with("mesure_") && secret.len() == 71,
        "{secret}"
    );
    // Only what its user may read, and only sites that exist.
    for (site, says) in [
        ("autre", "may not read autre"),
        ("nowhere", "no site nowhere"),
    ] {
        let out = mesure(
            &[
                "token",
                "add",
                "dev@mairie.fr",
                "--name",
                "x",
                "--site",
                site,
            ],
            &vars,
        );
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains(says), "{}", text(&out.stderr));
    }
    let out = mesure(&["token", "list", "dev@mairie.fr"], &vars);
    let listed = text(&out.stdout);
    assert!(
        listed.contains("\tGrafana\tsites=mairie\t") && listed.contains("last_used_ms=never"),
        "{listed}"
    );
    assert!(!listed.contains(&secret[7..]), "the secret is never listed");
    let id = listed.split('\t').next().expect("id").to_owned();
    let out = mesure(&["token", "revoke", &id], &vars);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = mesure(&["token", "list", "dev@mairie.fr"], &vars);
    assert!(
        text(&out.stdout).trim_end().ends_with("\trevoked"),
        "{}",
        text(&out.stdout)
    );
    // Each change is in the audit log, the command line as its actor.
    let out = mesure(&["audit", "--site", "mairie"], &vars);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut actions: Vec<String> = text(&out.stdout)
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert!(fields[2].starts_with("cli"), "{line}");
            assert_eq!(fields[4], "mairie", "{line}");
            fields[1].to_owned()
        })
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "role_granted",
            "site_added",
            "token_created",
            "token_revoked"
        ]
    );
    let everything = text(&mesure(&["audit"], &vars).stdout);
    assert!(everything.contains("\tuser_added\t"), "{everything}");
    assert!(everything.contains("dev@mairie.fr"), "{everything}");
}

#[test]
fn shared_links_from_the_command_line() {
    let db = LocalClickHouse::unique_database("cli_links");
    let store = sqlite_store("cli_links");
    let vars = [
        ("MESURE_CLICKHOUSE_DATABASE", db.as_str()),
        ("MESURE_ACCOUNTS_URL", store.as_str()),
    ];
    for args in [
        &["migrate"][..],
        &["site", "put", "mairie", "--host", "mairie.fr"][..],
        &["user", "add", "admin@mairie.fr", "--no-password"][..],
        &["user", "add", "viewer@mairie.fr", "--no-password"][..],
        &[
            "user",
            "grant",
            "admin@mairie.fr",
            "--site",
            "mairie",
            "--role",
            "admin",
        ][..],
        &[
            "user",
            "grant",
            "viewer@mairie.fr",
            "--site",
            "mairie",
            "--role",
            "viewer",
        ][..],
    ] {
        let out = mesure(args, &vars);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
    let out = mesure(
        &[
            "link",
            "add",
            "admin@mairie.fr",
            "--site",
            "mairie",
            "--name",
            "Conseil",
            "--expires-days",
            "30",
        ],
        &vars,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let path = text(&out.stdout).trim().to_owned();
    assert!(
        path.starts_with("/share/") && path.len() == "/share/".len() + 64,
        "{path}"
    );
    // Only a site's admins share it.
    let out = mesure(
        &[
            "link",
            "add",
            "viewer@mairie.fr",
            "--site",
            "mairie",
            "--name",
            "x",
        ],
        &vars,
    );
    assert!(
        text(&out.stderr).contains("does not administer"),
        "{}",
        text(&out.stderr)
    );
    let out = mesure(&["link", "list", "--site", "mairie"], &vars);
    let listed = text(&out.stdout);
    assert!(
        listed.contains("\tConseil\tpassword=false\tembeddable=false\texpires_ms="),
        "{listed}"
    );
    assert!(!listed.contains(&path[7..]), "the secret is never listed");
    let id = listed.split('\t').next().expect("id").to_owned();
    let out = mesure(&["link", "revoke", &id], &vars);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = mesure(&["link", "list", "--site", "mairie"], &vars);
    assert!(text(&out.stdout).trim_end().ends_with("\trevoked"));
}

#[test]
fn the_systemd_units_verify_and_are_sandboxed() {
    let units = mesure_testkit::repo_root().join("deploy/systemd");
    let dir = std::env::temp_dir().join(LocalClickHouse::unique_database("systemd_units"));
    std::fs::create_dir_all(&dir).expect("temporary folder");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&units).expect("deploy/systemd") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("unit");
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".service") {
            for setting in [
                "ProtectSystem=strict",
                "ReadWritePaths=/var/lib/mesure",
                "NoNewPrivileges=yes",
                "PrivateTmp=yes",
                "User=mesure",
            ] {
                assert!(text.contains(setting), "{name} lacks {setting}");
            }
        }
        // The binary this test built, where an install puts it.
        let local = text.replace("/usr/local/bin/mesure", env!("CARGO_BIN_EXE_mesure"));
        let copy = dir.join(&name);
        std::fs::write(&copy, local).expect("copy");
        files.push(copy);
    }
    assert_eq!(files.len(), 5, "{files:?}");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg("--man=no")
        .args(&files)
        .output()
        .expect("systemd-analyze (Debian's systemd package, installed by scripts/setup.sh)");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}
