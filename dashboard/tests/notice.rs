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
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 creates it)", path.display()));
    assert!(
        expected == actual,
        "{} differs (UPDATE_GOLDEN=1 rewrites it after review):\n{actual}",
        path.display()
    );
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
    use mesure_dashboard::assessment::{assess, markdown};
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
    assert!(
        assess(&compliant_facts, &compliant, Lang::Fr)
            .iter()
            .all(|c| c.met)
    );
    let mut row = SiteRow::new("musee", &["musee.example.org"]);
    row.mode = Mode::Consent;
    let failing = site(row);
    let careless = Facts {
        honors_signals: false,
        ..Facts::default()
    };
    let failed: Vec<&str> = assess(&careless, &failing, Lang::En)
        .iter()
        .filter(|c| !c.met)
        .map(|c| c.id)
        .collect();
    assert_eq!(failed, ["anonymous", "hosting", "campaigns", "opt_out"]);
    for (name, facts, site, lang) in [
        ("mairie", &compliant_facts, &compliant, Lang::Fr),
        ("musee", &careless, &failing, Lang::Fr),
        ("musee", &careless, &failing, Lang::En),
    ] {
        let text = markdown(facts, site, lang, "2026-01-15");
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
