//! The HTML pages over a real socket, on generated traffic: the figures are
//! the stats API's, written as the chosen language writes numbers; a row's
//! link filters the whole page and its chip removes the filter; a bad link
//! is a clear page, never a 5xx; nothing is loaded from another origin.

mod common;

use common::*;
use mesure_dashboard::pages::assets::{CHART, STYLE, UPLOT, UPLOT_STYLE};
use mesure_dashboard::pages::i18n::Lang;
use serde_json::{Value, json};
use sha2::{Digest, Sha384};

async fn get(dashboard: &Dashboard, target: &str, language: &str) -> Answer {
    send(
        dashboard.addr,
        dashboard.signed(browser_request(
            "GET",
            target,
            &[("Accept-Language", language)],
            b"",
        )),
    )
    .await
}

fn text(answer: &Answer) -> String {
    String::from_utf8(answer.body.clone()).expect("utf-8")
}

/// A page that must be shown.
async fn shown(dashboard: &Dashboard, target: &str) -> String {
    let answer = get(dashboard, target, "en").await;
    assert_eq!(answer.status, 200, "{target}: {}", text(&answer));
    text(&answer)
}

/// Every `href` and `src` of a page, unescaped.
fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attribute in ["href=\"", "src=\"", "action=\""] {
        for (i, _) in html.match_indices(attribute) {
            let rest = &html[i + attribute.len()..];
            let end = rest.find('"').expect("closed attribute");
            out.push(rest[..end].replace("&amp;", "&"));
        }
    }
    out
}

/// The headline figures of the API for the same view, written in `lang`.
fn headline(lang: Lang, answer: &Value) -> Vec<String> {
    let m = &answer["results"][0]["metrics"];
    let n = |i: usize| m[i].as_f64().expect("number");
    vec![
        lang.integer(n(0) as u64),
        lang.integer(n(1) as u64),
        lang.integer(n(2) as u64),
        lang.decimal(n(3), 2),
        lang.percent(n(4)),
        lang.duration(n(5)),
    ]
}

const HEADLINE: [&str; 6] = [
    "visitors",
    "visits",
    "pageviews",
    "views_per_visit",
    "bounce_rate",
    "visit_duration",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_shows_the_api_figures_in_either_language() {
    let visits = generate(40, 41);
    let (_db, client) = database("pages", &visits).await;
    let dashboard = dashboard(client).await;

    let api = dashboard
        .ok(json!({"site_id": "paris", "date_range": "30d", "metrics": HEADLINE}))
        .await;
    let visitors = api["results"][0]["metrics"][0].as_f64().expect("visitors");
    assert!(visitors > 100.0, "{api}");

    // French from the browser's language: French labels and numbers.
    let page = get(&dashboard, "/sites/paris", "fr-FR,fr;q=0.9").await;
    assert_eq!(page.status, 200, "{}", text(&page));
    assert_eq!(page.header("content-language").as_deref(), Some("fr"));
    let html = text(&page);
    assert!(html.contains("<html lang=\"fr\">"));
    assert!(html.contains("Visiteurs") && html.contains("Taux de rebond"));
    for figure in headline(Lang::Fr, &api) {
        assert!(html.contains(&format!("<dd>{figure}</dd>")), "{figure}");
    }

    // English when asked for, whatever the browser says.
    let html = text(&get(&dashboard, "/sites/paris?lang=en", "fr").await);
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("Bounce rate") && !html.contains("Taux de rebond"));
    for figure in headline(Lang::En, &api) {
        assert!(html.contains(&format!("<dd>{figure}</dd>")), "{figure}");
    }

    // Every panel the overview shows is there, with its heading.
    for title in [
        "Pages",
        "Sources",
        "Locations",
        "Devices",
        "Goals",
        "Custom events",
        "Outbound links",
        "Downloads",
        "Over time",
    ] {
        assert!(html.contains(&format!(">{title}</h2>")), "{title}");
    }

    // Countries by their names, and on the map, each with its figure.
    let countries = dashboard
        .ok(
            json!({"site_id": "paris", "date_range": "30d", "metrics": ["visitors"],
                   "dimensions": ["visit:country"]}),
        )
        .await;
    for row in countries["results"].as_array().expect("rows") {
        let code = row["dimensions"][0].as_str().expect("code");
        let name = mesure_dashboard::pages::countries::name(Lang::En, code).expect("a country");
        let figure = Lang::En.integer(row["metrics"][0].as_u64().expect("visitors"));
        assert!(html.contains(&format!(">{name}</a>")), "{name}");
        assert!(
            html.contains(&format!("<title>{name} : {figure}</title>")),
            "{name}: {figure}"
        );
    }
    assert!(html.contains("<svg class=\"map\""));
    // The chart: drawn by the dashboard's scripts from its table.
    assert!(html.contains("<table data-chart"));
    assert!(html.matches("data-t=\"").count() >= 30);
    for asset in [&*UPLOT, &*CHART, &*UPLOT_STYLE] {
        assert!(html.contains(&format!("integrity=\"{}\"", asset.integrity)));
        assert_eq!(get(&dashboard, &asset.path(), "en").await.status, 200);
    }

    // Gzipped for a browser that asks, as its script and style sheet.
    for target in [
        "/sites/paris?lang=en".to_owned(),
        UPLOT.path(),
        STYLE.path(),
    ] {
        let plain = get(&dashboard, &target, "en").await;
        let zipped = send(
            dashboard.addr,
            dashboard.signed(browser_request(
                "GET",
                &target,
                &[("Accept-Encoding", "gzip")],
                b"",
            )),
        )
        .await;
        assert_eq!(
            zipped.header("content-encoding").as_deref(),
            Some("gzip"),
            "{target}"
        );
        assert!(zipped.body.len() * 2 < plain.body.len(), "{target}");
    }

    // No inline style or script: a strict Content-Security-Policy holds.
    assert!(!html.contains(" style="));
    assert!(!html.contains("<script>"));

    // Nothing from another origin: every link and source is the dashboard's.
    for link in links(&html) {
        assert!(
            link.starts_with('/') || link.starts_with('#') || link.starts_with('?'),
            "{link}"
        );
    }

    // The style sheet: linked with its integrity hash, cached for a year.
    assert!(html.contains(&format!("integrity=\"{}\"", STYLE.integrity)));
    let style = get(&dashboard, &STYLE.path(), "en").await;
    assert_eq!(style.status, 200);
    assert!(
        style
            .header("cache-control")
            .is_some_and(|c| c.contains("immutable"))
    );
    use base64::Engine;
    let digest = base64::engine::general_purpose::STANDARD.encode(Sha384::digest(&style.body));
    assert_eq!(STYLE.integrity, format!("sha384-{digest}"));
    assert_eq!(
        get(&dashboard, "/assets/nothing.css", "en").await.status,
        404
    );
    dashboard.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_filters_the_page_and_its_chip_removes_the_filter() {
    let visits = generate(20, 43);
    let (_db, client) = database("pages_filter", &visits).await;
    let dashboard = dashboard(client).await;

    let page = shown(&dashboard, "/sites/paris?lang=en").await;
    // The countries tab lists countries, each a link that filters by it.
    let filter = links(&page)
        .into_iter()
        .find(|l| l.contains("f=is%7Cvisit%3Acountry%7C"))
        .expect("a country row's link");
    let country = filter
        .split("f=is%7Cvisit%3Acountry%7C")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .expect("country")
        .to_owned();

    let filtered = get(&dashboard, &filter, "en").await;
    assert_eq!(filtered.status, 200, "{}", text(&filtered));
    let filtered = text(&filtered);
    let name = mesure_dashboard::pages::countries::name(Lang::En, &country).expect("a country");
    assert!(
        filtered.contains(&format!("Country is {name}")),
        "a chip names the filter by the country's name"
    );
    // Every figure of the page is the filtered one.
    let api = dashboard
        .ok(
            json!({"site_id": "paris", "date_range": "30d", "metrics": HEADLINE,
                   "filters": [["is", "visit:country", [country]]]}),
        )
        .await;
    for figure in headline(Lang::En, &api) {
        assert!(filtered.contains(&format!("<dd>{figure}</dd>")), "{figure}");
    }
    // The chip's link is the page without the filter.
    let remove = links(&filtered)
        .into_iter()
        .find(|l| !l.contains("f=") && l.starts_with("/sites/paris") && l.contains("lang=en"))
        .expect("a link without the filter");
    assert_eq!(remove, "/sites/paris?lang=en");
    dashboard.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sites_csv_and_bad_links() {
    let visits = generate(10, 47);
    let (_db, client) = database("pages_misc", &visits).await;
    let dashboard = dashboard(client).await;

    // The sites page lists every site, linked to its overview.
    let sites = shown(&dashboard, "/?lang=en").await;
    for (id, _, _) in SITES {
        assert!(
            sites.contains(&format!("href=\"/sites/{id}?lang=en\"")),
            "{id}"
        );
    }

    // A panel's whole list as CSV, in the page's view.
    let csv = get(
        &dashboard,
        "/sites/paris/csv?period=7d&d=visit%3Acountry",
        "en",
    )
    .await;
    assert_eq!(csv.status, 200, "{}", text(&csv));
    // The same file as the export's, for the same period.
    let export = send(
        dashboard.addr,
        dashboard.signed(browser_request(
            "GET",
            "/api/v1/export?site_id=paris&date_range=7d",
            &[],
            b"",
        )),
    )
    .await;
    assert_eq!(export.status, 200);
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(export.body)).expect("a ZIP archive");
    let mut countries = String::new();
    std::io::Read::read_to_string(
        &mut archive.by_name("countries.csv").expect("countries.csv"),
        &mut countries,
    )
    .expect("utf-8");
    assert!(countries.lines().count() > 1, "{countries}");
    assert_eq!(text(&csv), countries);

    // Bad links: a clear page in the reader's language, never a 5xx.
    for (target, status, named) in [
        ("/sites/paris?period=forever", 400, "forever"),
        ("/sites/paris?f=is%7Cvisit%3Anope%7Cx", 400, "nope"),
        ("/sites/paris?%3Cscript%3E=1", 400, "&lt;script&gt;"),
        ("/sites/nowhere", 404, "ce site"),
        ("/sites/paris/csv?d=time", 400, "d="),
        ("/sites/paris/csv", 400, "d="),
    ] {
        let answer = get(&dashboard, target, "fr").await;
        assert_eq!(answer.status, status, "{target}");
        let html = text(&answer);
        assert!(
            html.to_lowercase().contains(&named.to_lowercase()),
            "{target}: {html}"
        );
        assert!(!html.contains("<script"), "{target}");
    }
    let long = format!("/sites/paris?{}", "x".repeat(5000));
    assert_eq!(get(&dashboard, &long, "en").await.status, 400);
    dashboard.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn details_list_everything_searched_and_sorted() {
    let visits = generate(20, 53);
    let (_db, client) = database("pages_details", &visits).await;
    let dashboard = dashboard(client).await;

    // The overview links to each panel's details.
    let overview = shown(&dashboard, "/sites/paris?lang=en").await;
    let details = "/sites/paris/details/event%3Apage?lang=en";
    assert!(links(&overview).iter().any(|l| l == details), "{overview}");

    let api = dashboard
        .ok(
            json!({"site_id": "paris", "date_range": "30d", "metrics": ["visitors", "pageviews"],
                   "dimensions": ["event:page"], "order_by": [["visitors", "asc"]]}),
        )
        .await;
    let rows = api["results"].as_array().expect("rows");
    assert!(rows.len() > 3, "{api}");
    let label = |row: &Value| row["dimensions"][0].as_str().expect("page").to_owned();

    let page = get(&dashboard, details, "en").await;
    assert_eq!(page.status, 200, "{}", text(&page));
    let html = text(&page);
    assert!(html.contains(&format!("{} rows", rows.len())), "{html}");
    for row in rows {
        assert!(
            html.contains(&format!(">{}</a>", label(row))),
            "{}",
            label(row)
        );
    }
    // Sorted the other way: the least visited page comes first.
    let ascending = text(
        &get(
            &dashboard,
            &format!("{details}&sort=visitors&dir=asc"),
            "en",
        )
        .await,
    );
    let first = ascending
        .find(&format!(">{}</a>", label(&rows[0])))
        .expect("first");
    let last = ascending
        .find(&format!(">{}</a>", label(&rows[rows.len() - 1])))
        .expect("last");
    assert!(first < last);
    assert!(ascending.contains("aria-sort=\"ascending\""));

    // Searched: only the labels holding the text, whatever its case.
    let wanted = label(&rows[0]);
    let part = &wanted[..wanted.len().min(4)];
    let searched = text(
        &get(
            &dashboard,
            &format!("{details}&q={}", part.to_uppercase().replace('/', "%2F")),
            "en",
        )
        .await,
    );
    let matching = rows
        .iter()
        .filter(|r| label(r).to_lowercase().contains(&part.to_lowercase()))
        .count();
    assert!(matching >= 1);
    let count = if matching == 1 {
        "One row".to_owned()
    } else {
        format!("{matching} rows")
    };
    assert!(searched.contains(&count), "{count}: {searched}");

    for (target, named) in [
        ("/sites/paris/details/time", "time"),
        ("/sites/paris/details/event%3Apage?sort=bounce_rate", "sort"),
        ("/sites/paris/details/event%3Apage?dir=sideways", "dir"),
    ] {
        let answer = get(&dashboard, target, "en").await;
        assert_eq!(answer.status, 400, "{target}");
        assert!(text(&answer).contains(named), "{target}");
    }
    let long = format!("{details}&q={}", "a".repeat(201));
    assert_eq!(get(&dashboard, &long, "en").await.status, 400);
    dashboard.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_realtime_page_shows_the_realtime_figures() {
    let visits = generate(3, 59);
    let (_db, client) = database("pages_realtime", &visits).await;
    let dashboard = dashboard(client).await;
    let overview = shown(&dashboard, "/sites/paris?lang=en").await;
    assert!(
        links(&overview)
            .iter()
            .any(|l| l == "/sites/paris/realtime?lang=en")
    );

    let api = send(
        dashboard.addr,
        dashboard.signed(browser_request(
            "GET",
            "/api/v1/realtime?site_id=paris",
            &[],
            b"",
        )),
    )
    .await;
    let api: Value = serde_json::from_slice(&api.body).expect("json");
    let page = get(&dashboard, "/sites/paris/realtime?lang=en", "en").await;
    assert_eq!(page.status, 200, "{}", text(&page));
    let html = text(&page);
    for (id, key) in [("rt-5m", "visitors_5m"), ("rt-30m", "visitors_30m")] {
        let figure = Lang::En.integer(api[key].as_u64().expect("count"));
        assert!(
            html.contains(&format!("<dd id=\"{id}\">{figure}</dd>")),
            "{id}: {figure}"
        );
    }
    // Paris is an exempt site: the page says counts are rounded.
    assert!(html.contains("rounded to the nearest 10"));
    // Its script: the dashboard's own, with its integrity hash, and it
    // reads the realtime API of the same origin.
    use mesure_dashboard::pages::assets::REALTIME;
    assert!(html.contains(&format!("integrity=\"{}\"", REALTIME.integrity)));
    assert!(html.contains("data-source=\"/api/v1/realtime?site_id=paris\""));
    let script = get(&dashboard, &REALTIME.path(), "en").await;
    assert_eq!(script.status, 200);
    assert!(
        script
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/javascript"))
    );
    assert_eq!(
        get(&dashboard, "/sites/nowhere/realtime", "en")
            .await
            .status,
        404
    );
    dashboard.stop();
}

/// Posts a form as a page of the dashboard would (same origin), or as
/// another site would.
async fn post_form(
    dashboard: &Dashboard,
    target: &str,
    origin: &str,
    fields: &[(&str, &str)],
) -> Answer {
    // The session's token last: a field given first wins.
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .append_pair("csrf", &dashboard.csrf)
        .finish();
    send(
        dashboard.addr,
        dashboard.signed(browser_request(
            "POST",
            target,
            &[
                ("Origin", origin),
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Accept-Language", "fr"),
            ],
            body.as_bytes(),
        )),
    )
    .await
}

/// The ids of the notes a page lists, from their remove forms.
fn note_ids(html: &str) -> Vec<String> {
    links(html)
        .into_iter()
        .filter_map(|link| {
            let rest = link.split("/annotations/").nth(1)?;
            Some(rest.strip_suffix("/delete")?.to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_are_added_shown_on_their_dates_and_removed() {
    let visits = generate(10, 53);
    let (_db, client) = database("pages_notes", &visits).await;
    let dashboard = dashboard(client.clone()).await;
    let own = "http://collector.test";
    let paris: chrono_tz::Tz = "Europe/Paris".parse().expect("zone");
    let today = chrono::Utc::now().with_timezone(&paris).date_naive();
    let date = (today - chrono::Days::new(2)).to_string();

    let page = shown(&dashboard, "/sites/paris?period=30d&lang=en").await;
    assert!(page.contains("No note in this period"), "{page}");
    assert!(note_ids(&page).is_empty());

    // Added from the page's form: back to the view it came from.
    let view = "period=30d&lang=en";
    let added = post_form(
        &dashboard,
        "/sites/paris/annotations",
        own,
        &[
            ("date", &date),
            ("text", " campagne <radio> "),
            ("view", view),
        ],
    )
    .await;
    assert_eq!(added.status, 303, "{}", text(&added));
    assert_eq!(
        added.header("location").as_deref(),
        // The same view, written the way its links write it (30 days is the default).
        Some("/sites/paris?lang=en#annotations")
    );
    let page = shown(&dashboard, "/sites/paris?period=30d&lang=en").await;
    assert!(page.contains(&format!("data-note=\"{date}\"")), "{page}");
    assert!(page.contains("campagne &lt;radio&gt;"), "{page}");
    let ids = note_ids(&page);
    assert_eq!(ids.len(), 1, "{page}");
    // Only on the charts that cover its date, and only on its site.
    for other in [
        "/sites/paris?period=day&lang=en",
        "/sites/cayenne?period=30d&lang=en",
    ] {
        let page = shown(&dashboard, other).await;
        assert!(!page.contains("campagne"), "{other}");
    }

    // Refused: another origin, a bad note; nothing is saved.
    let refused = [
        (
            evil_origin(),
            date.clone(),
            "x".to_owned(),
            403,
            "ne vient pas",
        ),
        (own, date.clone(), String::new(), 400, "1 à 200"),
        (own, date.clone(), "é".repeat(201), 400, "1 à 200"),
        (
            own,
            "2001-01-01".into(),
            "trop vieux".into(),
            400,
            "AAAA-MM-JJ",
        ),
        (own, "demain".into(), "x".into(), 400, "AAAA-MM-JJ"),
    ];
    for (origin, date, note, status, says) in refused {
        let answer = post_form(
            &dashboard,
            "/sites/paris/annotations",
            origin,
            // The view's language is the refusal's.
            &[("date", &date), ("text", &note), ("view", "lang=fr")],
        )
        .await;
        assert_eq!(answer.status, status, "{origin} {date} {note}");
        assert!(text(&answer).contains(says), "{}", text(&answer));
    }
    let answer = post_form(
        &dashboard,
        "/sites/paris/annotations",
        own,
        &[
            ("csrf", "forged"),
            ("date", &date),
            ("text", "x"),
            ("view", "lang=fr"),
        ],
    )
    .await;
    assert_eq!(answer.status, 403, "{}", text(&answer));
    let answer = post_form(
        &dashboard,
        "/sites/nowhere/annotations",
        own,
        &[("date", &date), ("text", "x")],
    )
    .await;
    assert_eq!(answer.status, 404);
    let huge = "x".repeat(100_000);
    let answer = post_form(
        &dashboard,
        "/sites/paris/annotations",
        own,
        &[("text", &huge)],
    )
    .await;
    assert_eq!(answer.status, 413);
    let page = shown(&dashboard, "/sites/paris?period=30d&lang=en").await;
    assert_eq!(note_ids(&page), ids);

    // Stored with its site and date, within the retention's TTL.
    let stored: Vec<(String, String, String)> = client
        .query("SELECT site_id, toString(date), text FROM annotations FINAL")
        .fetch_all()
        .await
        .expect("rows");
    assert_eq!(
        stored,
        [(
            "paris".to_owned(),
            date.clone(),
            "campagne <radio>".to_owned()
        )]
    );

    // Removed: by its own site only, from its own origin only, once.
    let remove = format!("/sites/paris/annotations/{}/delete", ids[0]);
    let elsewhere = format!("/sites/cayenne/annotations/{}/delete", ids[0]);
    assert_eq!(
        post_form(&dashboard, &elsewhere, own, &[("view", view)])
            .await
            .status,
        404
    );
    assert_eq!(
        post_form(&dashboard, &remove, evil_origin(), &[("view", view)])
            .await
            .status,
        403
    );
    let removed = post_form(&dashboard, &remove, own, &[("view", view)]).await;
    assert_eq!(removed.status, 303, "{}", text(&removed));
    let page = shown(&dashboard, "/sites/paris?period=30d&lang=en").await;
    assert!(note_ids(&page).is_empty(), "{page}");
    let again = post_form(&dashboard, &remove, own, &[("view", "lang=fr")]).await;
    assert_eq!(again.status, 404);
    assert!(text(&again).contains("n’existe pas"), "{}", text(&again));
    dashboard.stop();
}

fn evil_origin() -> &'static str {
    "http://evil.example"
}

/// The text of the first element after `marker` (tags stripped).
fn cell_after(html: &str, marker: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"));
    let rest = &html[start + marker.len()..];
    let rest = &rest[rest.find('>').expect("tag end") + 1..];
    let end = rest
        .find("<br>")
        .or_else(|| rest.find("</td>"))
        .expect("cell end");
    rest[..end].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sites_page_sums_visits_and_page_views_per_organisation() {
    let visits = generate(12, 59);
    let (_db, client) = database("pages_sites", &visits).await;
    for id in ["paris", "cayenne"] {
        let mut row = mesure_collector::sites::SiteRow::new(id, &[&format!("www.{id}.fr")]);
        row.time_zone = tz(id).name().to_owned();
        row.organisation = "Ministère des essais".into();
        mesure_collector::sites::put(&client, row)
            .await
            .expect("site");
    }
    let dashboard = dashboard(client).await;

    let page = shown(&dashboard, "/?lang=en&period=7d").await;
    // The organisation first, then the sites without one.
    let ministry = page
        .find("<h2 id=\"organisation-0\">Ministère des essais</h2>")
        .expect(&page);
    let others = page.find("Sites without an organisation").expect("others");
    assert!(ministry < others);
    for id in ["paris", "cayenne"] {
        let at = page.find(&format!("href=\"/sites/{id}?")).expect(id);
        assert!(ministry < at && at < others, "{id}");
    }
    assert!(page.find("href=\"/sites/noumea?").expect("noumea") > others);
    assert!(page.contains("Organisation total (2 sites)"), "{page}");

    // The roll-up is the sum of the sites' figures, as the API gives them.
    let mut sums = [0.0; 2];
    for id in ["paris", "cayenne"] {
        let answer = dashboard
            .ok(json!({"site_id": id, "date_range": "7d", "metrics": ["visits", "pageviews"]}))
            .await;
        for (sum, value) in sums
            .iter_mut()
            .zip(answer["results"][0]["metrics"].as_array().expect("metrics"))
        {
            *sum += value.as_f64().expect("number");
        }
    }
    assert!(sums[0] > 50.0, "{sums:?}");
    assert_eq!(
        cell_after(&page, "data-total=\"visits\""),
        Lang::En.integer(sums[0] as u64)
    );
    assert_eq!(
        cell_after(&page, "data-total=\"pageviews\""),
        Lang::En.integer(sums[1] as u64)
    );
    // Visitors do not add up across sites: no total for them.
    assert!(!page.contains("data-total=\"visitors\""));

    // Each site's trend: one point per day of the period, named for
    // screen readers.
    let sparks = page.matches("<svg class=\"spark\"").count();
    assert_eq!(sparks, SITES.len(), "{page}");
    assert!(page.contains("aria-label=\"Visitors per day,"), "{page}");
    let line = page.split("<polyline points=\"").nth(1).expect("points");
    let line = &line[..line.find('"').expect("end")];
    assert_eq!(line.split(' ').count(), 7, "{line}");
    dashboard.stop();
}
