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
        // The change is marked on the site's chart.
        assert!(overview.contains("Mode exempt → consent"), "{overview}");

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
        // Another id with lyon's host: its hits would go to one of the two.
        let same_host = post(
            &dashboard,
            "/sites/new",
            &dashboard.cookie,
            &new_site("lyon-bis", &dashboard.csrf),
        )
        .await;
        assert_eq!(same_host.status, 400);
        let page = text(&same_host);
        assert!(
            page.contains("lyon.fr") && page.contains("another site"),
            "{page}"
        );
        assert!(site_row(&client, "lyon-bis").await.is_none());
        dashboard.stop();
    }
}

/// The first `prefix` followed by 64 hex digits in `html`: a secret shown.
fn secret_after(html: &str, prefix: &str) -> String {
    let start = html
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in {html}"))
        + prefix.len();
    let secret: String = html[start..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    assert_eq!(secret.len(), 64, "{html}");
    secret
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_give_access_and_share_and_users_make_tokens() {
    for engine in ENGINES {
        let (_db, client) = database("manage_people", &generate(1, 101)).await;
        let dashboard = dashboard_with(client.clone(), accounts_on(engine).await).await;
        let store = &dashboard.accounts;
        let (admin, csrf) = session(store, "adm@paris.fr", &[("paris", Role::Admin)]).await;
        let (viewer, _) = session(store, "vic@paris.fr", &[("paris", Role::Viewer)]).await;
        let get = |target: String, cookie: Option<String>| {
            let dashboard = &dashboard;
            async move {
                let mut headers = vec![("Accept-Language", "en")];
                let cookie = cookie.unwrap_or_default();
                if !cookie.is_empty() {
                    headers.push(("Cookie", &cookie));
                }
                send(
                    dashboard.addr,
                    browser_request("GET", &target, &headers, b""),
                )
                .await
            }
        };
        let me = Some(admin.clone());

        // Users: who may see the page.
        let page = get("/sites/paris/users".into(), me.clone()).await;
        assert_eq!(page.status, 200, "{}", text(&page));
        assert!(text(&page).contains("vic@paris.fr"));
        assert_eq!(
            get("/sites/paris/users".into(), Some(viewer.clone()))
                .await
                .status,
            403
        );
        assert_eq!(
            get("/sites/noumea/users".into(), me.clone()).await.status,
            404
        );

        // An address with an account gets the role at once.
        let granted = post(
            &dashboard,
            "/sites/paris/users",
            &admin,
            &form(&[
                ("email", "VIC@paris.fr"),
                ("role", "admin"),
                ("csrf", &csrf),
            ]),
        )
        .await;
        assert_eq!(granted.status, 303, "{}", text(&granted));
        let vic = store
            .user_by_email("vic@paris.fr")
            .await
            .expect("read")
            .expect("vic");
        assert_eq!(
            store
                .access(&vic)
                .await
                .expect("access")
                .role_on("paris", ""),
            Some(Role::Admin)
        );
        // A hostile address is refused, shown as text.
        let refused = post(
            &dashboard,
            "/sites/paris/users",
            &admin,
            &form(&[
                ("email", "<img src=x onerror=alert(1)>"),
                ("role", "viewer"),
                ("csrf", &csrf),
            ]),
        )
        .await;
        assert_eq!(refused.status, 400);
        assert!(text(&refused).contains("This is not an e-mail address."));
        assert!(!text(&refused).contains("<img src=x"));

        // Any other address gets a one-time link, shown once.
        let invited = post(
            &dashboard,
            "/sites/paris/users",
            &admin,
            &form(&[
                ("email", "new@paris.fr"),
                ("role", "viewer"),
                ("csrf", &csrf),
            ]),
        )
        .await;
        assert_eq!(invited.status, 200, "{}", text(&invited));
        let secret = secret_after(&text(&invited), "https://collector.test/invite/");
        let invitation = format!("/invite/{secret}");
        let opened = get(invitation.clone(), None).await;
        assert_eq!(opened.status, 200);
        assert!(text(&opened).contains("new@paris.fr"));
        let accept = |password: &'static str, again: &'static str| {
            let (dashboard, invitation) = (&dashboard, invitation.clone());
            async move {
                send(
                    dashboard.addr,
                    browser_request(
                        "POST",
                        &invitation,
                        &[
                            ("Origin", "http://collector.test"),
                            ("Accept-Language", "en"),
                            ("Content-Type", "application/x-www-form-urlencoded"),
                        ],
                        form(&[("name", "Néo"), ("password", password), ("again", again)])
                            .as_bytes(),
                    ),
                )
                .await
            }
        };
        let mismatch = accept("a long enough secret", "another long secret").await;
        assert_eq!(mismatch.status, 400);
        assert!(text(&mismatch).contains("The two passwords differ."));
        assert_eq!(accept("short", "short").await.status, 400);
        let accepted = accept("a long enough secret", "a long enough secret").await;
        assert_eq!(accepted.status, 303, "{}", text(&accepted));
        assert_eq!(accepted.header("location").as_deref(), Some("/sites/paris"));
        let cookie = accepted
            .header("set-cookie")
            .and_then(|c| c.split(';').next().map(str::to_owned))
            .expect("signed in");
        assert_eq!(
            get("/sites/paris".into(), Some(cookie.clone()))
                .await
                .status,
            200
        );
        assert_eq!(
            get("/sites/noumea".into(), Some(cookie.clone()))
                .await
                .status,
            404
        );
        // Once only.
        assert_eq!(
            accept("a long enough secret", "a long enough secret")
                .await
                .status,
            404
        );
        assert_eq!(get(invitation.clone(), None).await.status, 404);

        // A member's role changed, then taken away; a stranger is not found.
        let neo = store
            .user_by_email("new@paris.fr")
            .await
            .expect("read")
            .expect("neo");
        let changed = post(
            &dashboard,
            "/sites/paris/users/role",
            &admin,
            &form(&[("user", &neo.id), ("role", "admin"), ("csrf", &csrf)]),
        )
        .await;
        assert_eq!(changed.status, 303);
        let removed = post(
            &dashboard,
            "/sites/paris/users/remove",
            &admin,
            &form(&[("user", &neo.id), ("csrf", &csrf)]),
        )
        .await;
        assert_eq!(removed.status, 303);
        assert_eq!(get("/sites/paris".into(), Some(cookie)).await.status, 404);
        let stranger = post(
            &dashboard,
            "/sites/paris/users/remove",
            &admin,
            &form(&[("user", &neo.id), ("csrf", &csrf)]),
        )
        .await;
        assert_eq!(stranger.status, 404);

        // An invitation revoked no longer opens.
        let invited = post(
            &dashboard,
            "/sites/paris/users",
            &admin,
            &form(&[
                ("email", "late@paris.fr"),
                ("role", "viewer"),
                ("csrf", &csrf),
            ]),
        )
        .await;
        let late = secret_after(&text(&invited), "/invite/");
        let pending = store.invitations_of_site("paris").await.expect("pending");
        let id = &pending
            .iter()
            .find(|i| i.email == "late@paris.fr")
            .expect("late")
            .id;
        let revoked = post(
            &dashboard,
            &format!("/sites/paris/users/invitations/{id}/revoke"),
            &admin,
            &form(&[("csrf", &csrf)]),
        )
        .await;
        assert_eq!(revoked.status, 303);
        assert_eq!(get(format!("/invite/{late}"), None).await.status, 404);

        // Shared links: made (embeddable on the site's hosts), refused, revoked.
        let made = post(
            &dashboard,
            "/sites/paris/links",
            &admin,
            &form(&[
                ("name", "Conseil"),
                ("embeddable", "on"),
                ("days", "30"),
                ("csrf", &csrf),
            ]),
        )
        .await;
        assert_eq!(made.status, 200, "{}", text(&made));
        let shared = format!(
            "/share/{}",
            secret_after(&text(&made), "https://collector.test/share/")
        );
        let framed = get(shared.clone(), None).await;
        assert_eq!(framed.status, 200);
        let policy = framed.header("content-security-policy").expect("policy");
        assert!(
            policy.ends_with("; frame-ancestors https://www.paris.fr"),
            "{policy}"
        );
        assert_eq!(framed.header("x-frame-options"), None);
        let plain = post(
            &dashboard,
            "/sites/paris/links",
            &admin,
            &form(&[("name", "Presse"), ("csrf", &csrf)]),
        )
        .await;
        let plain = format!("/share/{}", secret_after(&text(&plain), "/share/"));
        let closed = get(plain, None).await;
        assert!(
            closed
                .header("content-security-policy")
                .expect("policy")
                .ends_with("frame-ancestors 'none'")
        );
        assert_eq!(closed.header("x-frame-options").as_deref(), Some("DENY"));
        for (fields, says) in [
            (
                vec![
                    ("name", "x"),
                    ("embeddable", "on"),
                    ("password", "a long enough secret"),
                ],
                "cannot have a password",
            ),
            (vec![("name", "x"), ("days", "0")], "from 1 to 3660"),
            (vec![("name", ""), ("days", "")], "Give a name"),
        ] {
            let mut fields = fields;
            fields.push(("csrf", &csrf));
            let refused = post(&dashboard, "/sites/paris/links", &admin, &form(&fields)).await;
            assert_eq!(refused.status, 400, "{fields:?}");
            assert!(text(&refused).contains(says), "{says}: {}", text(&refused));
        }
        // Vic is an admin now: another reader.
        let (reader, _) = session(store, "reader@paris.fr", &[("paris", Role::Viewer)]).await;
        assert_eq!(
            get("/sites/paris/links".into(), Some(reader)).await.status,
            403
        );
        let links = store.links_of_site("paris").await.expect("links");
        let conseil = links.iter().find(|l| l.name == "Conseil").expect("conseil");
        assert!(conseil.embeddable);
        let revoked = post(
            &dashboard,
            &format!("/sites/paris/links/{}/revoke", conseil.id),
            &admin,
            &form(&[("csrf", &csrf)]),
        )
        .await;
        assert_eq!(revoked.status, 303);
        assert_eq!(get(shared, None).await.status, 404);

        // Tokens: one's own, for sites one may read.
        assert_eq!(get("/account".into(), me.clone()).await.status, 200);
        let made = post(
            &dashboard,
            "/account/tokens",
            &admin,
            &form(&[("name", "Grafana"), ("site", "paris"), ("csrf", &csrf)]),
        )
        .await;
        assert_eq!(made.status, 200, "{}", text(&made));
        let token = format!("mesure_{}", secret_after(&text(&made), "value=\"mesure_"));
        let query = br#"{"site_id": "paris", "date_range": "7d", "metrics": ["visitors"]}"#;
        let with_token = |token: String| {
            let dashboard = &dashboard;
            async move {
                let bearer = format!("Bearer {token}");
                send(
                    dashboard.addr,
                    browser_request(
                        "POST",
                        "/api/v2/query",
                        &[("Authorization", &bearer)],
                        query,
                    ),
                )
                .await
            }
        };
        assert_eq!(with_token(token.clone()).await.status, 200);
        let elsewhere = post(
            &dashboard,
            "/account/tokens",
            &admin,
            &form(&[("name", "x"), ("site", "noumea"), ("csrf", &csrf)]),
        )
        .await;
        assert_eq!(elsewhere.status, 404);
        let none = post(
            &dashboard,
            "/account/tokens",
            &admin,
            &form(&[("name", "x"), ("csrf", &csrf)]),
        )
        .await;
        assert_eq!(none.status, 400);
        let adm = store
            .user_by_email("adm@paris.fr")
            .await
            .expect("read")
            .expect("adm");
        let id = store.tokens_of(&adm.id).await.expect("tokens")[0]
            .id
            .clone();
        // Another user cannot revoke it.
        let (other, other_csrf) = session(store, "other@paris.fr", &[("paris", Role::Admin)]).await;
        let theirs = post(
            &dashboard,
            &format!("/account/tokens/{id}/revoke"),
            &other,
            &form(&[("csrf", &other_csrf)]),
        )
        .await;
        assert_eq!(theirs.status, 404);
        let revoked = post(
            &dashboard,
            &format!("/account/tokens/{id}/revoke"),
            &admin,
            &form(&[("csrf", &csrf)]),
        )
        .await;
        assert_eq!(revoked.status, 303);
        assert_eq!(with_token(token).await.status, 401);

        let mut logged: Vec<String> = actions(&client, "paris")
            .await
            .into_iter()
            .map(|(a, _)| a)
            .filter(|a| a != "link_used" && a != "token_used")
            .collect();
        logged.sort();
        let mut expected = vec![
            "role_granted",
            "invited",
            "invitation_accepted",
            "role_granted",
            "role_revoked",
            "invited",
            "invitation_revoked",
            "link_created",
            "link_created",
            "link_revoked",
            "token_created",
            "token_revoked",
        ];
        expected.sort_unstable();
        assert_eq!(logged, expected, "{engine:?}");
        dashboard.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organisation_admins_manage_who_reads_its_sites() {
    for engine in ENGINES {
        let (_db, client) = database("manage_orgs", &generate(1, 113)).await;
        let org = "Ville de Démo";
        for id in ["paris", "cayenne"] {
            let mut row = site_row(&client, id).await.expect("site");
            row.organisation = org.to_owned();
            sites::put(&client, row).await.expect("organisation");
        }
        let dashboard = dashboard_with(client.clone(), accounts_on(engine).await).await;
        let store = &dashboard.accounts;
        let boss_user = store
            .add_user("boss@ville.fr", "", None, false)
            .await
            .expect("boss");
        store
            .grant_organisation(&boss_user.id, org, Role::Admin)
            .await
            .expect("organisation admin");
        let opened = store
            .open_session(&boss_user, mesure_testkit::clock::real_now_ms())
            .await
            .expect("session");
        let boss = format!(
            "{}={}",
            mesure_dashboard::auth::SECURE_COOKIE,
            opened.secret
        );
        let csrf = opened.csrf;
        let (site_admin, site_csrf) =
            session(store, "adm@paris.fr", &[("paris", Role::Admin)]).await;
        store
            .add_user("ana@ville.fr", "", None, false)
            .await
            .expect("ana");
        let page_of = "/organisations/Ville%20de%20D%C3%A9mo";
        let get = |target: String, cookie: String| {
            let dashboard = &dashboard;
            async move {
                send(
                    dashboard.addr,
                    browser_request(
                        "GET",
                        &target,
                        &[("Cookie", &cookie), ("Accept-Language", "en")],
                        b"",
                    ),
                )
                .await
            }
        };

        let page = get(page_of.into(), boss.clone()).await;
        assert_eq!(page.status, 200, "{}", text(&page));
        assert!(text(&page).contains("href=\"/sites/cayenne\"") && !text(&page).contains("noumea"));
        let sites = text(&get("/?lang=en".into(), boss.clone()).await);
        assert!(sites.contains(&format!("href=\"{page_of}\"")), "{sites}");
        assert_eq!(get(page_of.into(), site_admin.clone()).await.status, 404);
        assert_eq!(
            get("/organisations/Ailleurs".into(), dashboard.cookie.clone())
                .await
                .status,
            404
        );
        assert_eq!(
            get(page_of.into(), dashboard.cookie.clone()).await.status,
            200
        );
        // A site's admin cannot give a role on the organisation.
        let refused = post(
            &dashboard,
            page_of,
            &site_admin,
            &form(&[
                ("email", "ana@ville.fr"),
                ("role", "admin"),
                ("csrf", &site_csrf),
            ]),
        )
        .await;
        assert_eq!(refused.status, 404);

        // An existing account is given a role on every site of it.
        let added = post(
            &dashboard,
            page_of,
            &boss,
            &form(&[
                ("email", "ANA@ville.fr"),
                ("role", "viewer"),
                ("csrf", &csrf),
            ]),
        )
        .await;
        assert_eq!(added.status, 303, "{}", text(&added));
        let ana = store
            .user_by_email("ana@ville.fr")
            .await
            .expect("read")
            .expect("ana");
        let access = store.access(&ana).await.expect("access");
        assert_eq!(access.role_on("cayenne", org), Some(Role::Viewer));
        assert_eq!(access.role_on("noumea", ""), None);
        let unknown = post(
            &dashboard,
            page_of,
            &boss,
            &form(&[
                ("email", "nobody@ville.fr"),
                ("role", "viewer"),
                ("csrf", &csrf),
            ]),
        )
        .await;
        assert_eq!(unknown.status, 400);
        assert!(text(&unknown).contains("No account uses this address"));
        let changed = post(
            &dashboard,
            &format!("{page_of}/role"),
            &boss,
            &form(&[("user", &ana.id), ("role", "admin"), ("csrf", &csrf)]),
        )
        .await;
        assert_eq!(changed.status, 303);
        let removed = post(
            &dashboard,
            &format!("{page_of}/remove"),
            &boss,
            &form(&[("user", &ana.id), ("csrf", &csrf)]),
        )
        .await;
        assert_eq!(removed.status, 303);
        assert_eq!(
            store
                .access(&ana)
                .await
                .expect("access")
                .role_on("cayenne", org),
            None
        );

        // Each change is audited on each site of the organisation.
        for site in ["paris", "cayenne"] {
            let names: Vec<String> = actions(&client, site)
                .await
                .into_iter()
                .map(|(a, _)| a)
                .collect();
            assert_eq!(
                names,
                ["role_granted", "role_granted", "role_revoked"],
                "{site}"
            );
        }
        dashboard.stop();
    }
}
