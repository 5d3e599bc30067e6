//! The isolation matrix, over a real socket: for every page, form, API
//! route and export about a site, each kind of client that may read site A
//! (a viewer, an admin, an API token, a shared link) gets for site B
//! exactly what it gets for a site that does not exist: existence is never
//! confirmed. Anonymous clients are sent to sign in (pages) or refused
//! (API, forms). Then every form field takes hostile values: refused or
//! stored as text, never run, never a server error. Both on SQLite and on
//! PostgreSQL.

mod common;

use common::*;
use mesure_accounts::Role;

/// How a route is asked: a page, a form, or the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Page,
    Form,
    Api,
}

/// Every route about site `s`: its kind, method, target and body (forms
/// get the session's token added).
fn routes(s: &str) -> Vec<(Kind, &'static str, String, String)> {
    let query = format!(r#"{{"site_id": "{s}", "date_range": "7d", "metrics": ["visitors"]}}"#);
    let page = |target: String| (Kind::Page, "GET", target, String::new());
    let form = |target: String, body: &str| (Kind::Form, "POST", target, body.to_owned());
    vec![
        page(format!("/sites/{s}")),
        page(format!("/sites/{s}/realtime")),
        page(format!("/sites/{s}/details/visit%3Asource")),
        page(format!("/sites/{s}/csv?d=visit%3Asource")),
        page(format!("/sites/{s}/settings")),
        page(format!("/sites/{s}/users")),
        page(format!("/sites/{s}/links")),
        page(format!("/sites/{s}/notice")),
        page(format!("/sites/{s}/notice?format=md")),
        page(format!("/sites/{s}/assessment")),
        page(format!("/sites/{s}/assessment?format=html")),
        page(format!("/audit?site={s}")),
        page(format!("/audit/csv?site={s}")),
        form(
            format!("/sites/{s}/annotations"),
            "date=2026-01-01&text=x&view=",
        ),
        form(format!("/sites/{s}/annotations/1/delete"), "view="),
        form(
            format!("/sites/{s}/settings"),
            "hosts=x.fr&mode=exempt&time_zone=UTC",
        ),
        form(format!("/sites/{s}/goals"), "name=g&kind=page&target=%2Fg"),
        form(format!("/sites/{s}/goals/delete"), "name=g"),
        form(format!("/sites/{s}/users"), "email=x%40y.fr&role=viewer"),
        form(format!("/sites/{s}/users/role"), "user=u&role=admin"),
        form(format!("/sites/{s}/users/remove"), "user=u"),
        form(format!("/sites/{s}/users/invitations/i/revoke"), ""),
        form(format!("/sites/{s}/links"), "name=l"),
        form(format!("/sites/{s}/links/l/revoke"), ""),
        (Kind::Api, "POST", "/api/v2/query".into(), query.clone()),
        (Kind::Api, "POST", "/api/v2/query/csv".into(), query),
        (
            Kind::Api,
            "GET",
            format!("/api/v1/export?site_id={s}&date_range=7d"),
            String::new(),
        ),
        (
            Kind::Api,
            "GET",
            format!("/api/v1/realtime?site_id={s}"),
            String::new(),
        ),
    ]
}

/// A client: its headers, and its forms' token.
struct Client {
    name: &'static str,
    headers: Vec<(&'static str, String)>,
    csrf: String,
}

async fn ask(
    dashboard: &Dashboard,
    client: &Client,
    route: &(Kind, &str, String, String),
) -> Answer {
    let (kind, method, target, body) = route;
    let mut body = body.clone();
    if *kind == Kind::Form {
        body = format!("{body}&csrf={}", client.csrf);
    }
    let mut headers: Vec<(&str, &str)> = vec![
        ("Origin", "http://collector.test"),
        ("Accept-Language", "en"),
        (
            "Content-Type",
            if *kind == Kind::Api {
                "application/json"
            } else {
                "application/x-www-form-urlencoded"
            },
        ),
    ];
    headers.extend(client.headers.iter().map(|(k, v)| (*k, v.as_str())));
    send(
        dashboard.addr,
        browser_request(method, target, &headers, body.as_bytes()),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_reaches_a_site_they_do_not_belong_to() {
    for engine in ENGINES {
        let (_db, clickhouse) = database("isolation", &generate(2, 103)).await;
        let dashboard = dashboard_with(clickhouse.clone(), accounts_on(engine).await).await;
        let store = &dashboard.accounts;
        let (viewer, viewer_csrf) =
            session(store, "vic@paris.fr", &[("paris", Role::Viewer)]).await;
        let (admin, admin_csrf) = session(store, "adm@paris.fr", &[("paris", Role::Admin)]).await;
        let maker = store
            .user_by_email("adm@paris.fr")
            .await
            .expect("read")
            .expect("admin");
        let now = mesure_testkit::clock::real_now_ms();
        let (_, token) = store
            .add_token(&maker, "t", &["paris".to_owned()], now)
            .await
            .expect("token");
        let (_, link) = store
            .add_link(&maker, "paris", "l", None, None, now)
            .await
            .expect("link");
        let clients = [
            Client {
                name: "viewer of paris",
                headers: vec![("Cookie", viewer)],
                csrf: viewer_csrf,
            },
            Client {
                name: "admin of paris",
                headers: vec![("Cookie", admin.clone())],
                csrf: admin_csrf.clone(),
            },
            Client {
                name: "token for paris",
                headers: vec![("Authorization", format!("Bearer {token}"))],
                csrf: String::new(),
            },
            Client {
                name: "link for paris, as a token",
                headers: vec![("Authorization", format!("Bearer {link}"))],
                csrf: String::new(),
            },
        ];
        let anonymous = Client {
            name: "anonymous",
            headers: Vec::new(),
            csrf: String::new(),
        };
        let before = mesure_sites::load(&clickhouse).await.expect("sites");

        for client in &clients {
            for (other, nowhere) in routes("noumea").iter().zip(routes("nowhere")) {
                let (kind, method, target, _) = other;
                let answer = ask(&dashboard, client, other).await;
                let absent = ask(&dashboard, client, &nowhere).await;
                let what = format!("{} {method} {target}", client.name);
                // Exactly what a site that does not exist gets.
                assert_eq!(answer.status, absent.status, "{what}");
                assert_eq!(text(&answer), text(&absent), "{what}");
                let sessionless = client.headers[0].0 == "Authorization";
                match (kind, sessionless) {
                    // Pages and forms are for people signed in.
                    (Kind::Page, true) => assert_eq!(answer.status, 303, "{what}"),
                    (Kind::Form, true) => assert_eq!(answer.status, 401, "{what}"),
                    // A link's secret is no token.
                    (Kind::Api, true) if client.name.starts_with("link") => {
                        assert_eq!(answer.status, 401, "{what}");
                    }
                    // The audit log is for admins: a reader is refused it
                    // whatever site it names.
                    (Kind::Page, false)
                        if target.starts_with("/audit") && client.name.starts_with("viewer") =>
                    {
                        assert_eq!(answer.status, 403, "{what}");
                    }
                    _ => assert_eq!(answer.status, 404, "{what}: {}", text(&answer)),
                }
            }
        }
        // Anonymous: pages lead to sign-in, the rest is refused.
        for route in routes("paris") {
            let (kind, method, target, _) = &route;
            let answer = ask(&dashboard, &anonymous, &route).await;
            let expected = match kind {
                Kind::Page => 303,
                Kind::Form | Kind::Api => 401,
            };
            assert_eq!(answer.status, expected, "anonymous {method} {target}");
            if *kind == Kind::Page {
                let location = answer.header("location").expect("location");
                assert!(location.starts_with("/sign-in?next="), "{location}");
            }
        }
        // A shared link shows its own site only, whatever its URL asks.
        for target in [
            format!("/share/{link}?site_id=noumea"),
            format!("/share/{link}/details/visit%3Asource?site=noumea"),
            format!("/share/{link}/csv?d=visit%3Asource&site_id=noumea"),
        ] {
            let answer = ask(
                &dashboard,
                &anonymous,
                &(Kind::Page, "GET", target.clone(), String::new()),
            )
            .await;
            assert!(answer.status < 500, "{target}");
            assert!(!text(&answer).contains("noumea"), "{target}");
        }
        // Nothing of Nouméa changed.
        assert_eq!(
            mesure_sites::load(&clickhouse).await.expect("sites"),
            before
        );
        let written: u64 = clickhouse
            .query("SELECT count() FROM audit WHERE site_id = 'noumea'")
            .fetch_one()
            .await
            .expect("audit");
        assert_eq!(written, 0, "{engine:?}");
        dashboard.stop();
    }
}

/// Values a form field may hold that must never run anywhere.
const HOSTILE: [&str; 6] = [
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "'; DROP TABLE users; --",
    "x') OR 1=1; DROP TABLE sites; --",
    "\u{0}\u{7}\r\n",
    "../../../../etc/passwd",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_values_in_every_form_are_refused_or_stored_as_text() {
    for engine in ENGINES {
        let (_db, clickhouse) = database("hostile", &generate(1, 107)).await;
        let dashboard = dashboard_with(clickhouse.clone(), accounts_on(engine).await).await;
        let store = &dashboard.accounts;
        let (admin, csrf) = session(store, "adm@paris.fr", &[("paris", Role::Admin)]).await;
        let admin_client = Client {
            name: "admin",
            headers: vec![("Cookie", admin.clone())],
            csrf: csrf.clone(),
        };
        let superuser = Client {
            name: "superuser",
            headers: vec![("Cookie", dashboard.cookie.clone())],
            csrf: dashboard.csrf.clone(),
        };
        let anonymous = Client {
            name: "anonymous",
            headers: Vec::new(),
            csrf: String::new(),
        };
        let maker = store
            .user_by_email("adm@paris.fr")
            .await
            .expect("read")
            .expect("admin");
        let now = mesure_testkit::clock::real_now_ms();
        let (_, locked) = store
            .add_link(
                &maker,
                "paris",
                "l",
                Some("a long enough secret"),
                None,
                now,
            )
            .await
            .expect("link");
        let (_, invitation) = store
            .invite(&maker, "new@paris.fr", ("paris", Role::Viewer), now)
            .await
            .expect("invitation");
        // Each form, its fields, and who posts it.
        let forms: Vec<(&Client, String, Vec<&str>)> = vec![
            (
                &anonymous,
                "/sign-in".into(),
                vec!["email", "password", "next"],
            ),
            (&anonymous, format!("/share/{locked}"), vec!["password"]),
            (
                &anonymous,
                format!("/invite/{invitation}"),
                vec!["name", "password", "again"],
            ),
            (
                &admin_client,
                "/sites/paris/annotations".into(),
                vec!["date", "text", "view"],
            ),
            (
                &admin_client,
                "/sites/paris/annotations/1/delete".into(),
                vec!["view"],
            ),
            (
                &admin_client,
                "/sites/paris/settings".into(),
                vec![
                    "hosts",
                    "mode",
                    "time_zone",
                    "params",
                    "events",
                    "city",
                    "matomo_id",
                    "organisation",
                ],
            ),
            (
                &admin_client,
                "/sites/paris/goals".into(),
                vec!["name", "kind", "target"],
            ),
            (
                &admin_client,
                "/sites/paris/goals/delete".into(),
                vec!["name"],
            ),
            (
                &admin_client,
                "/sites/paris/users".into(),
                vec!["email", "role"],
            ),
            (
                &admin_client,
                "/sites/paris/users/role".into(),
                vec!["user", "role"],
            ),
            (
                &admin_client,
                "/sites/paris/users/remove".into(),
                vec!["user"],
            ),
            (
                &admin_client,
                "/sites/paris/links".into(),
                vec!["name", "password", "days", "embeddable"],
            ),
            (
                &admin_client,
                "/account/tokens".into(),
                vec!["name", "site"],
            ),
            (
                &superuser,
                "/sites/new".into(),
                vec!["id", "hosts", "mode", "time_zone", "organisation"],
            ),
        ];
        let valid = |name: &str| match name {
            "hosts" => "www.paris.fr",
            "mode" => "exempt",
            "time_zone" => "Europe/Paris",
            "kind" => "page",
            "target" => "/ok",
            "role" => "viewer",
            "date" => "2026-01-01",
            "password" | "again" => "a long enough secret",
            "site" => "paris",
            "email" => "someone@paris.fr",
            _ => "ok",
        };
        let long = "é".repeat(40_000);
        for (client, target, fields) in &forms {
            for field in fields {
                for value in HOSTILE.iter().copied().chain([long.as_str()]) {
                    let mut pairs: Vec<(&str, &str)> = fields
                        .iter()
                        .filter(|f| *f != field)
                        .map(|f| (*f, valid(f)))
                        .collect();
                    pairs.push((field, value));
                    pairs.push(("csrf", &client.csrf));
                    let body = form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(&pairs)
                        .finish();
                    let answer = ask(
                        &dashboard,
                        &Client {
                            name: client.name,
                            headers: client.headers.clone(),
                            csrf: String::new(),
                        },
                        &(Kind::Page, "POST", target.clone(), body),
                    )
                    .await;
                    let what = format!("{} {target} {field}={:.40}", client.name, value);
                    assert!(answer.status < 500, "{what}: {}", answer.status);
                    let html = text(&answer);
                    for raw in &HOSTILE[..2] {
                        assert!(!html.contains(raw), "{what}: ran as HTML");
                    }
                }
            }
        }
        // The stores and tables are whole; what was kept reads as text.
        assert!(mesure_sites::load(&clickhouse).await.expect("sites").len() >= 3);
        assert!(
            store
                .user_by_email("adm@paris.fr")
                .await
                .expect("users")
                .is_some()
        );
        for page in [
            "/sites/paris",
            "/sites/paris/settings",
            "/sites/paris/users",
            "/sites/paris/links",
            "/account",
            "/audit",
        ] {
            let answer = ask(
                &dashboard,
                &superuser,
                &(Kind::Page, "GET", page.to_owned(), String::new()),
            )
            .await;
            assert_eq!(answer.status, 200, "{engine:?} {page}");
            for raw in &HOSTILE[..2] {
                assert!(!text(&answer).contains(raw), "{page}: ran as HTML");
            }
        }
        dashboard.stop();
    }
}
