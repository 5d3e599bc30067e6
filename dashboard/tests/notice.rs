//! Snapshots of the privacy notice for two sites configured differently
//! (exempt with cities and placeholders; consent without cities, another
//! retention and truncation, signals not honoured, everything named), in
//! both languages: a change of wording shows as a diff of
//! `tests/golden/notice-*` (`UPDATE_GOLDEN=1` rewrites them after review).
//! The same for the self-assessment of a compliant site and of a site that
//! fails conditions, each named. Then the pages that show and serve them.

mod common;

use common::*;
use mesure_accounts::Role;
use mesure_dashboard::notice::{Facts, Format, NoticeConfig, notice};
use mesure_dashboard::pages::i18n::Lang;
use mesure_sites::{Mode, Site, SiteRow};

fn check_golden(name: &str, actual: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    mesure_testkit::golden::check(&dir.join(name), actual);
}

fn site(row: SiteRow) -> Site {
    Site::from_row(&row).expect("valid site")
}

#[test]
fn the_notice_follows_each_sites_configuration_in_both_languages() {
    let mut mairie = SiteRow::new("mairie", &["www.mairie.fr", "*.mairie.fr"]);
    mairie.allowed_events = vec!["Inscription".into(), "Téléchargement".into()];
    let mut musee = SiteRow::new("musee", &["musee.example.org"]);
    musee.mode = Mode::Consent;
    musee.city = false;
    let named = Facts {
        retention_months: 13,
        ipv4_prefix: 16,
        ipv6_prefix: 32,
        honors_signals: false,
        config: NoticeConfig {
            controller: "Musée <des Arts> & Métiers, 1 rue du Musée".into(),
            hosting: "le musée, sur ses serveurs en France".into(),
            optout_url: "https://stats.example.org/optout".into(),
        },
    };
    for (name, site, facts) in [
        ("mairie", site(mairie), Facts::default()),
        ("musee", site(musee), named),
    ] {
        for lang in Lang::ALL {
            let text = notice(&facts, &site, lang, Format::Markdown);
            check_golden(&format!("notice-{name}-{}.md", lang.code()), &text);
        }
        let html = notice(&facts, &site, Lang::Fr, Format::Html);
        check_golden(&format!("notice-{name}-fr.html"), &html);
        assert!(!html.contains("<des Arts>"), "escaped: {html}");
    }
}

#[test]
fn the_self_assessment_names_each_condition_a_site_fails() {
    use mesure_dashboard::assessment::{Probe, assess, markdown};
    let compliant_facts = Facts {
        config: NoticeConfig {
            controller: "Mairie".into(),
            hosting: "la mairie, en France".into(),
            optout_url: "https://stats.mairie.fr/optout".into(),
        },
        ..Facts::default()
    };
    let mut row = SiteRow::new("mairie", &["www.mairie.fr"]);
    row.allowed_events = vec!["Inscription".into()];
    let compliant = site(row);
    let answered = Probe::Answered;
    assert!(
        assess(&compliant_facts, &compliant, Lang::Fr, &answered)
            .iter()
            .all(|c| c.met)
    );
    // The same site whose opt-out page does not answer.
    let silent = Probe::Failed("connection refused".into());
    let failed: Vec<&str> = assess(&compliant_facts, &compliant, Lang::Fr, &silent)
        .iter()
        .filter(|c| !c.met)
        .map(|c| c.id)
        .collect();
    assert_eq!(failed, ["opt_out"]);
    let mut row = SiteRow::new("musee", &["musee.example.org"]);
    row.mode = Mode::Consent;
    let failing = site(row);
    let careless = Facts {
        honors_signals: false,
        ..Facts::default()
    };
    let failed: Vec<&str> = assess(&careless, &failing, Lang::En, &Probe::NotAsked)
        .iter()
        .filter(|c| !c.met)
        .map(|c| c.id)
        .collect();
    assert_eq!(failed, ["anonymous", "hosting", "campaigns", "opt_out"]);
    for (name, facts, site, lang, probe) in [
        ("mairie", &compliant_facts, &compliant, Lang::Fr, &answered),
        ("musee", &careless, &failing, Lang::Fr, &Probe::NotAsked),
        ("musee", &careless, &failing, Lang::En, &Probe::NotAsked),
    ] {
        let text = markdown(facts, site, lang, ("2026-01-15", probe));
        check_golden(&format!("assessment-{name}-{}.md", lang.code()), &text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_of_a_site_read_and_download_its_notice() {
    let (_db, client) = database("notice", &[]).await;
    let dashboard = dashboard(client).await;
    let (viewer, _) = session(
        &dashboard.accounts,
        "dpo@paris.fr",
        &[("paris", Role::Viewer)],
    )
    .await;
    let get = |target: &'static str| {
        let (dashboard, viewer) = (&dashboard, viewer.clone());
        async move {
            send(
                dashboard.addr,
                browser_request(
                    "GET",
                    target,
                    &[("Cookie", &viewer), ("Accept-Language", "en")],
                    b"",
                ),
            )
            .await
        }
    };
    let page = get("/sites/paris/notice").await;
    assert_eq!(page.status, 200, "{}", text(&page));
    assert!(text(&page).contains("<h2>Audience measurement</h2>"));
    let overview = text(&get("/sites/paris").await);
    assert!(overview.contains("href=\"/sites/paris/notice\""));
    let md = get("/sites/paris/notice?lang=fr&format=md").await;
    assert_eq!(md.status, 200);
    assert_eq!(
        md.header("content-type").as_deref(),
        Some("text/markdown; charset=utf-8")
    );
    assert!(text(&md).starts_with("## Mesure d'audience\n"));
    let html = get("/sites/paris/notice?format=html").await;
    assert!(text(&html).starts_with("<h2>"));
    assert_eq!(get("/sites/paris/notice?format=pdf").await.status, 400);
    assert_eq!(get("/sites/noumea/notice").await.status, 404);
    // The self-assessment, dated, to print or download.
    let page = get("/sites/paris/assessment").await;
    assert_eq!(page.status, 200, "{}", text(&page));
    assert!(text(&page).contains("data-check=\"opt_out\""));
    assert!(
        text(&page).contains("Not met"),
        "no opt-out page is configured"
    );
    let html = get("/sites/paris/assessment?format=html").await;
    let disposition = html.header("content-disposition").expect("a file");
    assert!(
        disposition.contains("mesure-assessment-paris-"),
        "{disposition}"
    );
    assert!(text(&html).starts_with("<!DOCTYPE html>"));
    assert_eq!(get("/sites/paris/assessment?format=md").await.status, 200);
    assert_eq!(get("/sites/noumea/assessment").await.status, 404);
    dashboard.stop();
}

/// Starts a real collector with `retention_months` on `client`'s database;
/// its address and what stops it.
async fn collector(
    client: clickhouse::Client,
    retention_months: u32,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    use mesure_collector::config::{CollectorConfig, GeoConfig};
    use mesure_collector::spool::SpoolConfig;
    let spool = std::env::temp_dir().join(mesure_testkit::LocalClickHouse::unique_database(
        "probe_spool",
    ));
    std::fs::create_dir_all(&spool).expect("spool folder");
    let settings = mesure_collector::service::Settings {
        client,
        timeouts: Default::default(),
        collector: CollectorConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            ..CollectorConfig::default()
        },
        geoip: GeoConfig {
            databases: vec![mesure_testkit::geoip_dir().join("GeoLite2-City.mmdb")],
            cache: None,
        },
        spool: SpoolConfig {
            dir: spool,
            ..SpoolConfig::default()
        },
        retention_months,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (bound, addr) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        mesure_collector::service::run(
            settings,
            async {
                let _ = stopped.await;
            },
            move |a| {
                let _ = bound.send(a);
            },
        )
        .await
        .expect("collector runs");
    });
    (addr.await.expect("collector started"), stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_self_assessment_asks_the_running_collectors_opt_out_page() {
    let (_db, client) = database("probe", &[]).await;
    let (addr, stop) = collector(client.clone(), 13).await;
    let facts = |optout_url: String, retention_months| Facts {
        retention_months,
        config: NoticeConfig {
            hosting: "en France".into(),
            optout_url,
            ..NoticeConfig::default()
        },
        ..Facts::default()
    };
    // The page answers and states the 13 months configured: met. The same
    // page where 6 months are expected, or no collector at all: not met.
    for (url, months, met, says) in [
        (
            format!("http://{addr}/optout"),
            13,
            true,
            "answers and states the retention",
        ),
        (
            format!("http://{addr}/optout"),
            6,
            false,
            "does not state 6 months",
        ),
        (
            "http://127.0.0.1:9/optout".to_owned(),
            13,
            false,
            "does not answer as it should",
        ),
    ] {
        let dashboard = dashboard_configured(
            client.clone(),
            accounts().await,
            Extras {
                notice: facts(url.clone(), months),
                ..Extras::default()
            },
        )
        .await;
        let page = send(
            dashboard.addr,
            dashboard.signed(browser_request(
                "GET",
                "/sites/paris/assessment?lang=en",
                &[],
                b"",
            )),
        )
        .await;
        let html = text(&page);
        assert_eq!(page.status, 200);
        let row = html
            .split("data-check=\"opt_out\"")
            .nth(1)
            .and_then(|rest| rest.split("</tr>").next())
            .expect("the opt-out row");
        assert_eq!(row.contains("class=\"met\""), met, "{url} {months}: {row}");
        assert!(row.contains(says), "{url} {months}: {row}");
        dashboard.stop();
    }
    let _ = stop.send(());
}
