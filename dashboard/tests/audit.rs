//! The audit log over a real socket: one row per audited action (sign-ins
//! refused and accepted, notes, exports, token and link use, sign-out),
//! naming who, which site and the truncated address; read back by admins
//! (their sites only) and superusers (everything), as a page and as CSV.
//! The same scenario with the accounts in SQLite and in PostgreSQL.

mod common;

use common::*;
use mesure_accounts::Role;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, clickhouse::Row, serde::Deserialize)]
struct Logged {
    action: String,
    actor: String,
    credential: String,
    site_id: String,
    address: String,
}

/// The rows written since `since_ms`, sorted.
async fn logged(client: &clickhouse::Client, since_ms: i64) -> Vec<Logged> {
    let mut rows: Vec<Logged> = client
        .query(
            "SELECT action, actor, credential, site_id, address FROM audit \
             WHERE at >= fromUnixTimestamp64Milli(?, 'UTC')",
        )
        .bind(since_ms)
        .fetch_all()
        .await
        .expect("audit rows");
    rows.sort();
    rows
}

fn row(action: &str, actor: &str, credential: &str, site_id: &str) -> Logged {
    Logged {
        action: action.into(),
        actor: actor.into(),
        credential: credential.into(),
        site_id: site_id.into(),
        address: "127.0.0.0".into(),
    }
}

async fn get(dashboard: &Dashboard, target: &str, cookie: Option<&str>) -> Answer {
    ask(dashboard, cookie, &("GET", target.to_owned(), Vec::new())).await
}

/// Posts a form of the overview with a session.
async fn post_form(dashboard: &Dashboard, target: &str, cookie: &str, body: &str) -> Answer {
    send(
        dashboard.addr,
        browser_request(
            "POST",
            target,
            &[
                ("Cookie", cookie),
                ("Origin", "http://collector.test"),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            body.as_bytes(),
        ),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_audited_action_leaves_one_row_that_admins_read() {
    let (_db, client) = database("audit", &generate(3, 89)).await;
    for engine in ENGINES {
        let dashboard = dashboard_with(client.clone(), accounts_on(engine).await).await;
        let store = &dashboard.accounts;
        let since = mesure_testkit::clock::real_now_ms() - 1;
        let ana = store
            .add_user("ana@paris.fr", "", Some("a long enough secret"), false)
            .await
            .expect("user");
        store
            .grant_site(&ana.id, "paris", Role::Admin)
            .await
            .expect("role");
        let (admin, csrf) = session(store, "adm@paris.fr", &[("paris", Role::Admin)]).await;
        let (viewer, _) = session(store, "vic@paris.fr", &[("paris", Role::Viewer)]).await;

        // Sign-ins, refused (a hostile address too) and accepted.
        let (refused, _) = sign_in(&dashboard, "ana@paris.fr", "wrong password").await;
        assert_eq!(refused.status, 401);
        let hostile = "<script>alert(1)</script>";
        sign_in(&dashboard, hostile, "x").await;
        let (accepted, cookie) = sign_in(&dashboard, "ana@paris.fr", "a long enough secret").await;
        assert_eq!(accepted.status, 303);
        assert!(cookie.is_some());

        // A note added and removed.
        let today = local_date("paris", mesure_testkit::clock::real_now_ms());
        let added = post_form(
            &dashboard,
            "/sites/paris/annotations",
            &admin,
            &format!("date={today}&text=Radio&csrf={csrf}&view="),
        )
        .await;
        assert_eq!(added.status, 303, "{}", text(&added));
        let note: u64 = client
            .query(
                "SELECT id FROM annotations FINAL WHERE site_id = 'paris' AND NOT deleted \
                 ORDER BY created_at DESC LIMIT 1",
            )
            .fetch_one()
            .await
            .expect("note");
        let removed = post_form(
            &dashboard,
            &format!("/sites/paris/annotations/{note}/delete"),
            &admin,
            &format!("csrf={csrf}&view="),
        )
        .await;
        assert_eq!(removed.status, 303, "{}", text(&removed));

        // Exports: a panel's CSV, a query's CSV, and the ZIP through a token.
        let now = mesure_testkit::clock::real_now_ms();
        let adm = store
            .user_by_email("adm@paris.fr")
            .await
            .expect("read")
            .expect("adm");
        let (token, secret) = store
            .add_token(&adm, "script", &["paris".to_owned()], now)
            .await
            .expect("token");
        let panel = get(
            &dashboard,
            "/sites/paris/csv?d=visit%3Asource",
            Some(&admin),
        )
        .await;
        assert_eq!(panel.status, 200);
        let query = br#"{"site_id": "paris", "date_range": "7d", "metrics": ["visitors"]}"#;
        for (target, authorization) in [
            ("/api/v2/query/csv", None),
            ("/api/v1/export?site_id=paris&date_range=7d", Some(&secret)),
            // Used twice within a minute: its use is recorded once.
            ("/api/v1/realtime?site_id=paris", Some(&secret)),
        ] {
            let bearer = authorization.map(|s| format!("Bearer {s}"));
            // What a client says of its own address is not believed.
            let mut headers = vec![
                ("Content-Type", "application/json"),
                ("X-Forwarded-For", "198.51.100.7"),
                ("X-Mesure-Client-Prefix", "198.51.100.0"),
            ];
            match &bearer {
                Some(bearer) => headers.push(("Authorization", bearer)),
                None => headers.push(("Cookie", &admin)),
            }
            let method = if target.starts_with("/api/v2") {
                "POST"
            } else {
                "GET"
            };
            let body: &[u8] = if method == "POST" { query } else { b"" };
            let answer = send(
                dashboard.addr,
                browser_request(method, target, &headers, body),
            )
            .await;
            assert_eq!(answer.status, 200, "{target}: {}", text(&answer));
        }

        // A shared link, opened twice within a minute: recorded once.
        let (link, link_secret) = store
            .add_link(&adm, "paris", "Conseil", None, None, now)
            .await
            .expect("link");
        for _ in 0..2 {
            let page = get(&dashboard, &format!("/share/{link_secret}"), None).await;
            assert_eq!(page.status, 200);
        }

        // Signing out.
        let (leaving, leaving_csrf) =
            session(store, "out@paris.fr", &[("paris", Role::Viewer)]).await;
        let out = post_form(
            &dashboard,
            "/sign-out",
            &leaving,
            &format!("csrf={leaving_csrf}"),
        )
        .await;
        assert_eq!(out.status, 303);

        let token_id = format!("token:{}", token.id);
        let link_id = format!("link:{}", link.id);
        let mut expected = vec![
            row("sign_in_refused", "ana@paris.fr", "", ""),
            row("sign_in_refused", hostile, "", ""),
            row("sign_in", "ana@paris.fr", "", ""),
            row("note_added", "adm@paris.fr", "", "paris"),
            row("note_removed", "adm@paris.fr", "", "paris"),
            row("export", "adm@paris.fr", "", "paris"),
            row("export", "adm@paris.fr", "", "paris"),
            row("token_used", "adm@paris.fr", &token_id, "paris"),
            row("export", "adm@paris.fr", &token_id, "paris"),
            row("link_used", "Conseil", &link_id, "paris"),
            row("sign_out", "out@paris.fr", "", ""),
        ];
        expected.sort();
        assert_eq!(logged(&client, since).await, expected, "{engine:?}");

        // A superuser reads every row, hostile text shown as text.
        let all = get(&dashboard, "/audit?lang=en", Some(&dashboard.cookie)).await;
        assert_eq!(all.status, 200, "{}", text(&all));
        let html = text(&all);
        for shown in [
            "<td>Sign-in refused</td>",
            "<td>Note added</td>",
            "<td>Shared link opened</td>",
            "ana@paris.fr",
            "&lt;script&gt;alert(1)&lt;/script&gt;",
            &token_id,
        ] {
            assert!(html.contains(shown), "{shown} not in the log");
        }
        assert!(!html.contains(hostile), "a value ran as HTML");

        // A site's admin reads their sites' rows, not the instance's.
        let theirs = text(&get(&dashboard, "/audit?lang=en", Some(&admin)).await);
        assert!(theirs.contains("<td>Note added</td>"), "{theirs}");
        assert!(
            !theirs.contains("<td>Sign-in refused</td>") && !theirs.contains("ana@paris.fr"),
            "sign-ins are the instance's"
        );
        let one = text(
            &get(
                &dashboard,
                "/audit?lang=en&site=paris&action=export",
                Some(&admin),
            )
            .await,
        );
        assert!(
            one.contains("<td>Export</td>") && !one.contains("<td>Note added</td>"),
            "{one}"
        );
        // Another site is not found; a viewer, no one and nonsense are refused.
        assert_eq!(
            get(&dashboard, "/audit?site=noumea", Some(&admin))
                .await
                .status,
            404
        );
        assert_eq!(get(&dashboard, "/audit", Some(&viewer)).await.status, 403);
        assert_eq!(get(&dashboard, "/audit", None).await.status, 303);
        for bad in ["action=%3Cscript%3E", "from=2026-13-01", "site=paris&x=1"] {
            let answer = get(&dashboard, &format!("/audit?{bad}"), Some(&admin)).await;
            assert_eq!(answer.status, 400, "{bad}");
        }

        // Exportable as CSV, itself recorded.
        let before = mesure_testkit::clock::real_now_ms() - 1;
        let csv = get(&dashboard, "/audit/csv?site=paris", Some(&admin)).await;
        assert_eq!(csv.status, 200);
        assert_eq!(
            csv.header("content-type").as_deref(),
            Some("text/csv; charset=utf-8")
        );
        let csv = text(&csv);
        assert!(csv.starts_with("at,action,actor,credential,site_id,address,detail\r\n"));
        assert!(
            csv.contains(",note_added,adm@paris.fr,,paris,127.0.0.0,"),
            "{csv}"
        );
        assert_eq!(
            logged(&client, before).await,
            [row("export", "adm@paris.fr", "", "paris")]
        );
        dashboard.stop();
    }
}
