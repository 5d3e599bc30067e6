//! Managing sites from the pages, over a real socket: a site's admins
//! change its settings and goals (written to ClickHouse, where collectors
//! read them, and to the audit log), superusers add sites; viewers,
//! strangers, other origins and forms without the session's token are
//! refused; hostile values are refused or stored as text, never run. The
//! same scenario with the accounts in SQLite and in PostgreSQL.

mod common;

use common::*;
use mesure_accounts::Role;
use mesure_collector::sites::{self, Mode, SiteRow};

async fn post(dashboard: &Dashboard, target: &str, cookie: &str, body: &str) -> Answer {
    post_from(dashboard, target, cookie, body, "http://collector.test").await
}

async fn post_from(
    dashboard: &Dashboard,
    target: &str,
    cookie: &str,
    body: &str,
    origin: &str,
) -> Answer {
    send(
        dashboard.addr,
        browser_request(
            "POST",
            target,
            &[
                ("Cookie", cookie),
                ("Origin", origin),
                ("Accept-Language", "en"),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            body.as_bytes(),
        ),
    )
    .await
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

async fn site_row(client: &clickhouse::Client, id: &str) -> Option<SiteRow> {
    sites::load(client)
        .await
        .expect("sites")
        .into_iter()
        .find(|row| row.site_id == id)
}

async fn actions(client: &clickhouse::Client, site: &str) -> Vec<(String, String)> {
    client
        .query("SELECT action, detail FROM audit WHERE site_id = ? ORDER BY at")
        .bind(site)
        .fetch_all::<(String, String)>()
        .await
        .expect("audit")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_manage_their_sites_and_nobody_else_does() {
    for engine in ENGINES {
        let (_db, client) = database("manage", &generate(1, 97)).await;
        let dashboard = dashboard_with(client.clone(), accounts_on(engine).await).await;
        let store = &dashboard.accounts;
        let (admin, csrf) = session(store, "adm@paris.fr", &[("paris", Role::Admin)]).await;
        let (viewer, viewer_csrf) =
            session(store, "vic@paris.fr", &[("paris", Role::Viewer)]).await;
        let get = |target: &'static str, cookie: Option<String>| {
            let dashboard = &dashboard;
            async move {
                ask(
                    dashboard,
                    cookie.as_deref(),
                    &("GET", format!("{target}?lang=en"), Vec::new()),
                )
                .await
            }
        };

        // Who sees the settings page.
        let page = get("/sites/paris/settings", Some(admin.clone())).await;
        assert_eq!(page.status, 200, "{}", text(&page));
        assert!(text(&page).contains(">www.paris.fr</textarea>"));
        let overview = text(&get("/sites/paris", Some(admin.clone())).await);
        assert!(overview.contains("href=\"/sites/paris/settings\""));
        let overview = text(&get("/sites/paris", Some(viewer.clone())).await);
        assert!(
            !overview.contains("/settings"),
            "no settings link for a viewer"
        );
        assert_eq!(
            get("/sites/paris/settings", Some(viewer.clone()))
                .await
                .status,
            403
        );
        assert_eq!(
            get("/sites/noumea/settings", Some(admin.clone()))
                .await
                .status,
            404
        );
        assert_eq!(
            get("/sites/nowhere/settings", Some(admin.clone()))
                .await
                .status,
            404
        );
        assert_eq!(get("/sites/paris/settings", None).await.status, 303);

        // A change: consent mode and a campaign parameter, written where
        // collectors read it, audited, shown at once.
        let settings = [
            ("hosts", "www.paris.fr\nparis.fr"),
            ("mode", "consent"),
            ("time_zone", "Europe/Paris"),
            ("params", "utm_source"),
            ("events", "Inscription"),
            ("city", "on"),
            ("matomo_id", "12"),
            ("organisation", "Elsewhere"),
        ];
        let mut body = settings.to_vec();
        body.push(("csrf", &csrf));
        let saved = post(&dashboard, "/sites/paris/settings", &admin, &form(&body)).await;
        assert_eq!(saved.status, 303, "{}", text(&saved));
        assert_eq!(
            saved.header("location").as_deref(),
            Some("/sites/paris/settings?saved=1")
        );
        let row = site_row(&client, "paris").await.expect("paris");
        assert_eq!(row.hostnames, ["www.paris.fr", "paris.fr"]);
        assert_eq!(row.mode, Mode::Consent);
        assert_eq!(row.allowed_params, ["utm_source"]);
        assert_eq!(row.matomo_id, Some(12));
        assert_eq!(row.organisation, "", "only a superuser moves a site");
        let logged = actions(&client, "paris").await;
        let names: Vec<&str> = logged.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(names, ["mode_changed", "site_changed"], "{logged:?}");
        assert_eq!(logged[0].1, "exempt -> consent");
        assert!(
            logged[1]
                .1
                .contains("hosts: www.paris.fr -> www.paris.fr,paris.fr")
        );
        let overview = text(&get("/sites/paris", Some(admin.clone())).await);
        assert!(
            overview.contains("Consent mode"),
            "the registry was reloaded"
        );

        // Refused values: shown again with the reason, nothing written.
        let hostile = "<script>alert(1)</script>";
        for (name, value, reason) in [
            ("hosts", hostile, "is not a host"),
            ("params", "a'b", "cannot be a query parameter"),
            ("time_zone", "Mars/Olympus", "is not a known time zone"),
            ("matomo_id", "1 OR 1=1", "is not a Matomo site id"),
        ] {
            let mut body: Vec<(&str, &str)> = settings
                .iter()
                .filter(|(k, _)| *k != name)
                .copied()
                .collect();
            body.push((name, value));
            body.push(("csrf", &csrf));
            let refused = post(&dashboard, "/sites/paris/settings", &admin, &form(&body)).await;
            assert_eq!(refused.status, 400, "{name}");
            let html = text(&refused);
            assert!(html.contains(reason), "{name}: {html}");
            assert!(!html.contains(hostile), "a value ran as HTML");
        }
        // Exempt mode refuses the campaign parameter.
        let mut body: Vec<(&str, &str)> = settings
            .iter()
            .filter(|(k, _)| *k != "mode")
            .copied()
            .collect();
        body.extend([("mode", "exempt"), ("csrf", &csrf)]);
        let refused = post(&dashboard, "/sites/paris/settings", &admin, &form(&body)).await;
        assert_eq!(refused.status, 400);
        assert!(text(&refused).contains("identifies campaigns"));
        assert_eq!(site_row(&client, "paris").await.expect("paris"), row);

        // SQL in a value is stored as text.
        let sql = "x'); DROP TABLE sites; --";
        let mut body: Vec<(&str, &str)> = settings
            .iter()
            .filter(|(k, _)| *k != "events")
            .copied()
            .collect();
        body.extend([("events", sql), ("csrf", &csrf)]);
        let saved = post(&dashboard, "/sites/paris/settings", &admin, &form(&body)).await;
        assert_eq!(saved.status, 303, "{}", text(&saved));
        let row = site_row(&client, "paris")
            .await
            .expect("the table is still there");
        assert_eq!(row.allowed_events, [sql]);
        let page = text(&get("/sites/paris/settings", Some(admin.clone())).await);
        assert!(page.contains(&format!(">{sql}</textarea>")), "{page}");

        // Viewers, other origins and forms without the token write nothing.
        let mut body = settings.to_vec();
        body.push(("csrf", &viewer_csrf));
        let by_viewer = post(&dashboard, "/sites/paris/settings", &viewer, &form(&body)).await;
        assert_eq!(by_viewer.status, 403);
        let mut body = settings.to_vec();
        body.push(("csrf", &csrf));
        let foreign = post_from(
            &dashboard,
            "/sites/paris/settings",
            &admin,
            &form(&body),
            "http://evil.example",
        )
        .await;
        assert_eq!(foreign.status, 403);
        let tokenless = post(
            &dashboard,
            "/sites/paris/settings",
            &admin,
            &form(&settings),
        )
        .await;
        assert_eq!(tokenless.status, 403);
        let other = post(&dashboard, "/sites/noumea/settings", &admin, &form(&body)).await;
        assert_eq!(other.status, 404);
        assert_eq!(site_row(&client, "paris").await.expect("paris"), row);

        // Goals: added, refused, removed, each audited.
        let goal = form(&[
            ("name", "Inscription <b>"),
            ("kind", "page"),
            ("target", "/inscription/**"),
            ("csrf", &csrf),
        ]);
        let added = post(&dashboard, "/sites/paris/goals", &admin, &goal).await;
        assert_eq!(added.status, 303, "{}", text(&added));
        let page = text(&get("/sites/paris/settings", Some(admin.clone())).await);
        assert!(page.contains("Inscription &lt;b&gt;"), "{page}");
        let bad = form(&[
            ("name", "x"),
            ("kind", "page"),
            ("target", "no-slash"),
            ("csrf", &csrf),
        ]);
        let refused = post(&dashboard, "/sites/paris/goals", &admin, &bad).await;
        assert_eq!(refused.status, 400);
        assert!(text(&refused).contains("is not a page pattern"));
        let removed = post(
            &dashboard,
            "/sites/paris/goals/delete",
            &admin,
            &form(&[("name", "Inscription <b>"), ("csrf", &csrf)]),
        )
        .await;
        assert_eq!(removed.status, 303);
        let again = post(
            &dashboard,
            "/sites/paris/goals/delete",
            &admin,
            &form(&[("name", "Inscription <b>"), ("csrf", &csrf)]),
        )
        .await;
        assert_eq!(again.status, 404);
        let names: Vec<String> = actions(&client, "paris")
            .await
            .into_iter()
            .map(|(a, _)| a)
            .filter(|a| a.starts_with("goal_"))
            .collect();
        assert_eq!(names, ["goal_saved", "goal_removed"]);

        // A new site, by a superuser only.
        assert_eq!(get("/sites/new", Some(admin.clone())).await.status, 403);
        assert_eq!(
            get("/sites/new", Some(dashboard.cookie.clone()))
                .await
                .status,
            200
        );
        let new_site = |id: &'static str, csrf: &str| {
            form(&[
                ("id", id),
                ("hosts", "lyon.fr"),
                ("mode", "exempt"),
                ("time_zone", "Europe/Paris"),
                ("organisation", "Métropole"),
                ("csrf", csrf),
            ])
        };
        let by_admin = post(&dashboard, "/sites/new", &admin, &new_site("lyon", &csrf)).await;
        assert_eq!(by_admin.status, 403);
        let added = post(
            &dashboard,
            "/sites/new",
            &dashboard.cookie,
            &new_site("lyon", &dashboard.csrf),
        )
        .await;
        assert_eq!(added.status, 303, "{}", text(&added));
        let lyon = site_row(&client, "lyon").await.expect("lyon");
        assert_eq!(
            (lyon.organisation.as_str(), lyon.mode),
            ("Métropole", Mode::Exempt)
        );
        let names: Vec<String> = actions(&client, "lyon")
            .await
            .into_iter()
            .map(|(a, _)| a)
            .collect();
        assert_eq!(names, ["site_added"]);
        for (id, status) in [("lyon", 409), ("new", 400), ("Lyon!", 400)] {
            let answer = post(
                &dashboard,
                "/sites/new",
                &dashboard.cookie,
                &new_site(id, &dashboard.csrf),
            )
            .await;
            assert_eq!(answer.status, status, "{id}");
        }
        dashboard.stop();
    }
}
