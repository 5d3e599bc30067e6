//! Access control over a real socket: an anonymous client is sent to sign
//! in (pages) or refused with 401 (API); a viewer of one site gets 404 for
//! another on every page, API route and export, as if it did not exist;
//! only a site's admins write; signing in and out; the security headers.

mod common;

use common::*;
use mesure_accounts::Role;
use mesure_dashboard::app::SECURITY_HEADERS;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_sees_their_sites_only_and_anonymous_clients_nothing() {
    let visits = generate(8, 61);
    let (_db, client) = database("access", &visits).await;
    // The same scenario with the accounts in SQLite and in PostgreSQL.
    for engine in ENGINES {
        let dashboard = dashboard_with(client.clone(), accounts_on(engine).await).await;
        let (viewer, viewer_csrf) = session(
            &dashboard.accounts,
            "viewer@paris.fr",
            &[("paris", Role::Viewer)],
        )
        .await;

        for route in site_routes("paris") {
            let (method, target, _) = &route;
            // The viewer of Paris reads Paris.
            let answer = ask(&dashboard, Some(&viewer), &route).await;
            assert_eq!(answer.status, 200, "{method} {target}: {}", text(&answer));
            // Anonymous: pages lead to sign-in, coming back after; the API says 401.
            let answer = ask(&dashboard, None, &route).await;
            if target.starts_with("/api/") {
                assert_eq!(answer.status, 401, "{method} {target}");
                assert_eq!(answer.json()["error"], "unauthorized");
            } else {
                assert_eq!(answer.status, 303, "{method} {target}");
                let location = answer.header("location").expect("location");
                assert!(
                    location.starts_with("/sign-in?next=%2Fsites%2Fparis"),
                    "{location}"
                );
            }
            // A session that is not one: the same as none.
            let forged = format!(
                "{}={}",
                mesure_dashboard::auth::SECURE_COOKIE,
                "0".repeat(64)
            );
            let answer = ask(&dashboard, Some(&forged), &route).await;
            assert!(matches!(answer.status, 303 | 401), "{method} {target}");
        }
        for site in ["noumea", "cayenne", "nowhere"] {
            for route in site_routes(site) {
                let (method, target, _) = &route;
                // Another site, or none: not found either way.
                let answer = ask(&dashboard, Some(&viewer), &route).await;
                assert_eq!(answer.status, 404, "{method} {target}: {}", text(&answer));
            }
        }
        // The sites page lists Paris only.
        let sites = ask(
            &dashboard,
            Some(&viewer),
            &("GET", "/?lang=en".into(), Vec::new()),
        )
        .await;
        let html = text(&sites);
        assert!(html.contains("href=\"/sites/paris?lang=en\""), "{html}");
        for other in ["noumea", "cayenne"] {
            assert!(!html.contains(other), "{other} listed to a viewer of paris");
        }
        // A viewer reads notes but neither adds nor removes them.
        let overview = ask(
            &dashboard,
            Some(&viewer),
            &("GET", "/sites/paris".into(), Vec::new()),
        )
        .await;
        assert!(
            !text(&overview).contains("/annotations\""),
            "no note form for a viewer"
        );
        let body = format!("date=2026-01-01&text=x&csrf={viewer_csrf}");
        let refused = send(
            dashboard.addr,
            browser_request(
                "POST",
                "/sites/paris/annotations",
                &[("Cookie", &viewer), ("Origin", "http://collector.test")],
                body.as_bytes(),
            ),
        )
        .await;
        assert_eq!(refused.status, 403, "{}", text(&refused));
        dashboard.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_and_out() {
    let (_db, client) = database("access_sign_in", &generate(2, 67)).await;
    // The same scenario with the accounts in SQLite and in PostgreSQL.
    for engine in ENGINES {
        let dashboard = dashboard_with(client.clone(), accounts_on(engine).await).await;
        let user = dashboard
            .accounts
            .add_user("ana@paris.fr", "", Some("a long enough secret"), false)
            .await
            .expect("user");
        dashboard
            .accounts
            .grant_site(&user.id, "paris", Role::Admin)
            .await
            .expect("role");

        let form = send(
            dashboard.addr,
            browser_request("GET", "/sign-in?next=%2Fsites%2Fparis", &[], b""),
        )
        .await;
        assert_eq!(form.status, 200);
        assert!(
            text(&form).contains("value=\"/sites/paris\""),
            "{}",
            text(&form)
        );

        // A wrong password and an unknown account: the same answer.
        let (wrong, none) = sign_in(&dashboard, "ana@paris.fr", "not the secret").await;
        let (unknown, _) = sign_in(&dashboard, "nobody@paris.fr", "a long enough secret").await;
        assert_eq!((wrong.status, unknown.status), (401, 401));
        assert!(none.is_none());
        let message = |a: &Answer| {
            text(a)
                .split("role=\"alert\">")
                .nth(1)
                .map(|m| m[..m.find('<').unwrap_or(0)].to_owned())
        };
        assert_eq!(message(&wrong), message(&unknown));
        assert!(message(&wrong).is_some());

        // The right password: a session cookie, HttpOnly, SameSite=Strict,
        // Secure under its __Host- name, and back to where the reader was going.
        let (signed, cookie) = sign_in(&dashboard, "ANA@paris.fr", "a long enough secret").await;
        assert_eq!(signed.status, 303, "{}", text(&signed));
        assert_eq!(
            signed.header("location").as_deref(),
            Some("/sites/paris?lang=en")
        );
        let set = signed.header("set-cookie").expect("cookie");
        for part in [
            "__Host-mesure_session=",
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Path=/",
        ] {
            assert!(set.contains(part), "{set}");
        }
        let cookie = cookie.expect("session cookie");
        let page = send(
            dashboard.addr,
            browser_request("GET", "/sites/paris", &[("Cookie", &cookie)], b""),
        )
        .await;
        assert_eq!(page.status, 200);
        // Its forms carry the session's token; sign-out needs it.
        let html = text(&page);
        let csrf = html
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .map(|t| t[..64].to_owned())
            .expect("token");
        let out = |token: String| {
            let cookie = cookie.clone();
            async move {
                send(
                    dashboard.addr,
                    browser_request(
                        "POST",
                        "/sign-out",
                        &[("Cookie", &cookie), ("Origin", "http://collector.test")],
                        format!("csrf={token}").as_bytes(),
                    ),
                )
                .await
            }
        };
        assert_eq!(out("0".repeat(64)).await.status, 403);
        let gone = out(csrf).await;
        assert_eq!(gone.status, 303);
        assert!(
            gone.header("set-cookie")
                .expect("cleared")
                .contains("Max-Age=0")
        );
        let after = send(
            dashboard.addr,
            browser_request("GET", "/sites/paris", &[("Cookie", &cookie)], b""),
        )
        .await;
        assert_eq!(after.status, 303, "the session ended");

        // A sign-in from elsewhere is refused.
        let body = "email=ana%40paris.fr&password=a+long+enough+secret";
        let foreign = send(
            dashboard.addr,
            browser_request(
                "POST",
                "/sign-in",
                &[("Origin", "http://evil.example")],
                body.as_bytes(),
            ),
        )
        .await;
        assert_eq!(foreign.status, 403);
        assert!(foreign.header("set-cookie").is_none());

        // Failures are limited per account: past 5 (one above), even the right
        // password waits.
        for _ in 0..4 {
            assert_eq!(
                sign_in(&dashboard, "ana@paris.fr", "wrong password!")
                    .await
                    .0
                    .status,
                401
            );
        }
        let (limited, cookie) = sign_in(&dashboard, "ana@paris.fr", "a long enough secret").await;
        assert_eq!(limited.status, 429);
        assert!(cookie.is_none());
        assert_eq!(limited.header("retry-after").as_deref(), Some("900"));
        dashboard.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_security_headers() {
    let (_db, client) = database("access_headers", &generate(2, 71)).await;
    // The same scenario with the accounts in SQLite and in PostgreSQL.
    for engine in ENGINES {
        let dashboard = dashboard_with(client.clone(), accounts_on(engine).await).await;
        let style = mesure_dashboard::pages::assets::STYLE.path();
        for (target, signed) in [
            ("/", true),
            ("/sites/paris", true),
            ("/sites/nowhere", true),
            ("/sites/paris?period=forever", true),
            ("/sign-in", false),
            ("/", false),
            ("/api/v1/realtime?site_id=paris", false),
            (style.as_str(), false),
            ("/healthz", false),
            ("/nowhere", false),
        ] {
            let request = browser_request("GET", target, &[], b"");
            let request = if signed {
                dashboard.signed(request)
            } else {
                request
            };
            let answer = send(dashboard.addr, request).await;
            for (name, value) in SECURITY_HEADERS {
                assert_eq!(
                    answer.header(name).as_deref(),
                    Some(value),
                    "{target}: {name}"
                );
            }
            assert!(
                !text(&answer).contains("<script>"),
                "{target}: no inline script"
            );
        }
        dashboard.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_token_reads_the_sites_it_lists_while_its_maker_may() {
    let (_db, client) = database("access_tokens", &generate(4, 73)).await;
    // The same scenario with the accounts in SQLite and in PostgreSQL.
    for engine in ENGINES {
        let dashboard = dashboard_with(client.clone(), accounts_on(engine).await).await;
        let store = &dashboard.accounts;
        let maker = store
            .add_user("dev@paris.fr", "", None, false)
            .await
            .expect("user");
        for site in ["paris", "noumea"] {
            store
                .grant_site(&maker.id, site, Role::Admin)
                .await
                .expect("role");
        }
        let now = mesure_testkit::clock::real_now_ms();
        let (token, secret) = store
            .add_token(&maker, "script", &["paris".to_owned()], now)
            .await
            .expect("token");
        let bearer = format!("Bearer {secret}");
        let with_token = |route: &(&'static str, String, Vec<u8>), authorization: String| {
            let (method, target, body) = route.clone();
            async move {
                send(
                    dashboard.addr,
                    browser_request(
                        method,
                        &target,
                        &[
                            ("Authorization", &authorization),
                            ("Content-Type", "application/json"),
                        ],
                        &body,
                    ),
                )
                .await
            }
        };
        for route in site_routes("paris") {
            let answer = with_token(&route, bearer.clone()).await;
            let (_, target, _) = &route;
            if target.starts_with("/api/") {
                assert_eq!(answer.status, 200, "{target}: {}", text(&answer));
            } else {
                // Pages are for people signed in, not for tokens.
                assert_eq!(answer.status, 303, "{target}");
            }
        }
        // The maker may read Nouméa, but the token does not list it.
        for route in site_routes("noumea")
            .into_iter()
            .filter(|(_, t, _)| t.starts_with("/api/"))
        {
            assert_eq!(
                with_token(&route, bearer.clone()).await.status,
                404,
                "{}",
                route.1
            );
        }
        let paris_api = site_routes("paris")
            .into_iter()
            .find(|(_, t, _)| t == "/api/v2/query")
            .expect("query");
        // A bad token is refused, whatever session comes with it.
        // The same token with its last digit changed.
        let last = if secret.ends_with('0') { "1" } else { "0" };
        let altered = format!("Bearer {}{last}", &secret[..secret.len() - 1]);
        for bad in ["Bearer nope", "Basic abc", &altered] {
            let (method, target, body) = &paris_api;
            let answer = send(
                dashboard.addr,
                browser_request(
                    method,
                    target,
                    &[("Authorization", bad), ("Cookie", &dashboard.cookie)],
                    body,
                ),
            )
            .await;
            assert_eq!(answer.status, 401, "{bad}");
        }
        // Its maker loses Paris: so does the token.
        store
            .revoke_site(&maker.id, "paris")
            .await
            .expect("revoke role");
        assert_eq!(with_token(&paris_api, bearer.clone()).await.status, 404);
        store
            .grant_site(&maker.id, "paris", Role::Viewer)
            .await
            .expect("role");
        assert_eq!(with_token(&paris_api, bearer.clone()).await.status, 200);
        // Revoked: 401, and its last use was recorded.
        store.revoke_token(&token.id, now).await.expect("revoke");
        assert_eq!(with_token(&paris_api, bearer).await.status, 401);
        let listed = store.tokens_of(&maker.id).await.expect("tokens");
        assert!(
            listed[0].revoked && listed[0].last_used_at.is_some(),
            "{listed:?}"
        );
        dashboard.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_link_shows_its_one_site_read_only() {
    let (_db, client) = database("access_links", &generate(6, 79)).await;
    // The same scenario with the accounts in SQLite and in PostgreSQL.
    for engine in ENGINES {
        let dashboard = dashboard_with(client.clone(), accounts_on(engine).await).await;
        let store = &dashboard.accounts;
        let maker = store
            .add_user("admin@paris.fr", "", None, false)
            .await
            .expect("user");
        store
            .grant_site(&maker.id, "paris", Role::Admin)
            .await
            .expect("role");
        let now = mesure_testkit::clock::real_now_ms();
        let (link, secret) = store
            .add_link(&maker, "paris", "Conseil", None, None, now)
            .await
            .expect("link");
        let get = |target: String, cookie: Option<String>| async move {
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
        };
        let base = format!("/share/{secret}");

        // The overview, its details and CSVs, without an account.
        let page = get(format!("{base}?period=7d"), None).await;
        assert_eq!(page.status, 200, "{}", text(&page));
        let html = text(&page);
        assert!(html.contains("<h1>paris</h1>"), "the link's overview");
        assert!(
            html.contains(&format!(
                "href=\"{base}/details/visit%3Achannel?period=7d\""
            )),
            "the link's details"
        );
        // Nothing of other sites, settings, users or forms.
        for absent in [
            "href=\"/sites/",
            "href=\"/\"",
            "/realtime",
            "sign-out",
            "admin@paris.fr",
            "noumea",
            "cayenne",
            "<form method=\"post\"",
        ] {
            assert!(!html.contains(absent), "{absent} in a shared page");
        }
        for target in [
            format!("{base}/details/visit%3Asource"),
            format!("{base}/csv?d=visit%3Asource"),
        ] {
            assert_eq!(get(target.clone(), None).await.status, 200, "{target}");
        }
        // The link's secret opens nothing else.
        let as_bearer = send(
            dashboard.addr,
            browser_request(
                "POST",
                "/api/v2/query",
                &[("Authorization", &format!("Bearer {secret}"))],
                br#"{"site_id": "paris", "date_range": "7d", "metrics": ["visitors"]}"#,
            ),
        )
        .await;
        assert_eq!(as_bearer.status, 401);
        assert_eq!(get("/sites/paris".into(), None).await.status, 303);

        // Unknown, revoked, expired, or its maker without the site: not found.
        assert_eq!(
            get(format!("/share/{}", "0".repeat(64)), None).await.status,
            404
        );
        assert_eq!(get("/share/nope".into(), None).await.status, 404);
        let (_, expired) = store
            .add_link(&maker, "paris", "Old", None, Some(now - 1), now)
            .await
            .expect("link");
        assert_eq!(get(format!("/share/{expired}"), None).await.status, 404);
        store
            .revoke_site(&maker.id, "paris")
            .await
            .expect("revoke role");
        assert_eq!(get(base.clone(), None).await.status, 404);
        store
            .grant_site(&maker.id, "paris", Role::Admin)
            .await
            .expect("role");
        assert_eq!(get(base.clone(), None).await.status, 200);
        store.revoke_link(&link.id, now).await.expect("revoke");
        assert_eq!(get(base.clone(), None).await.status, 404);

        // A password: asked first, once per browser.
        let (_, locked) = store
            .add_link(
                &maker,
                "paris",
                "Presse",
                Some("a long enough secret"),
                None,
                now,
            )
            .await
            .expect("link");
        let base = format!("/share/{locked}");
        let asked = get(base.clone(), None).await;
        assert_eq!(asked.status, 200);
        assert!(
            text(&asked).contains(&format!("action=\"{base}\""))
                && !text(&asked).contains("<h1>paris</h1>")
        );
        let post = |origin: &'static str, password: &'static str| {
            let target = base.clone();
            async move {
                send(
                    dashboard.addr,
                    browser_request(
                        "POST",
                        &target,
                        &[("Origin", origin), ("Accept-Language", "en")],
                        format!("password={}", password.replace(' ', "+")).as_bytes(),
                    ),
                )
                .await
            }
        };
        assert_eq!(
            post("http://evil.example", "a long enough secret")
                .await
                .status,
            403
        );
        let wrong = post("http://collector.test", "not the password").await;
        assert_eq!(wrong.status, 401);
        assert!(text(&wrong).contains("Wrong password"));
        let opened = post("http://collector.test", "a long enough secret").await;
        assert_eq!(opened.status, 303);
        let set = opened.header("set-cookie").expect("cookie");
        assert!(
            set.contains(&format!("Path={base}"))
                && set.contains("HttpOnly")
                && set.contains("Secure"),
            "{set}"
        );
        let cookie = set.split(';').next().expect("pair").to_owned();
        let page = get(base.clone(), Some(cookie.clone())).await;
        assert!(text(&page).contains("<h1>paris</h1>"), "{}", text(&page));
        // The cookie of one link opens no other.
        let (_, other) = store
            .add_link(
                &maker,
                "paris",
                "Autre",
                Some("another long secret"),
                None,
                now,
            )
            .await
            .expect("link");
        assert!(
            !text(&get(format!("/share/{other}"), Some(cookie)).await).contains("<h1>paris</h1>")
        );
        dashboard.stop();
    }
}
