//! Drop-in compatibility over HTTP: Matomo's tracking API (single, form and
//! bulk), Plausible's event payload, and the scripts and pages served to
//! browsers. The real browsers and npm clients are in `tests/browser/`.

mod common;

use common::{browser_request, send, serve, test_collector};
use mesure_collector::assets::SITE_SCRIPT;
use mesure_collector::event::{Kind, Tracker};
use mesure_collector::row::EventRow;

/// Kind, path, name and tracker of each row.
fn summary(rows: &[EventRow]) -> Vec<(Kind, &str, &str, Tracker)> {
    rows.iter()
        .map(|r| (r.kind, &*r.path, r.name.as_str(), r.tracker))
        .collect()
}

const PAGE: &str = "url=https%3A%2F%2Fwww.prefecture.gouv.fr%2Fdemarches%3Fpage%3D2";

#[tokio::test]
async fn matomo_tracking_requests_become_rows_without_their_identifiers() {
    let t = test_collector();
    let (addr, _stop) = serve(t.collector.clone()).await;
    let identifiers = "_id=0123456789abcdef&cid=fedcba9876543210&uid=jean.dupont&cip=203.0.113.77&_idts=1700000000&pv_id=Zx9Yw8";

    // The image request of Matomo's JavaScript tracker.
    let image = send(
        addr,
        browser_request(
            "GET",
            &format!(
                "/matomo.php?idsite=3&rec=1&action_name=Accueil&{PAGE}&res=1280x720&{identifiers}"
            ),
            &[],
            b"",
        ),
    )
    .await;
    assert_eq!(image.status, 200);
    assert_eq!(image.header("content-type").as_deref(), Some("image/gif"));
    // send_image=0, and the old name of the endpoint.
    let beacon = send(
        addr,
        browser_request(
            "GET",
            &format!("/piwik.php?idsite=3&rec=1&{PAGE}&send_image=0&link=https%3A%2F%2Fwww.service-public.fr%2Fx"),
            &[],
            b"",
        ),
    )
    .await;
    assert_eq!(beacon.status, 204);
    // POST, the parameters in a form body, as sendBeacon sends them.
    let form = send(
        addr,
        browser_request(
            "POST",
            "/matomo.php",
            &[(
                "Content-Type",
                "application/x-www-form-urlencoded; charset=UTF-8",
            )],
            format!(
                "idsite=3&rec=1&{PAGE}&e_c=Formulaire&e_a=Inscription&send_image=0&{identifiers}"
            )
            .as_bytes(),
        ),
    )
    .await;
    assert_eq!(form.status, 204);
    // Not recorded: no rec=1, a heartbeat.
    for query in [
        "idsite=3&url=https%3A%2F%2Fwww.prefecture.gouv.fr%2F",
        "idsite=3&rec=1&ping=1",
    ] {
        let answer = send(
            addr,
            browser_request("GET", &format!("/matomo.php?{query}"), &[], b""),
        )
        .await;
        assert_eq!(answer.status, 200, "{query}");
    }

    let rows = t.sink.take();
    let got = summary(&rows);
    assert_eq!(
        got,
        [
            (Kind::Pageview, "/demarches?page=2", "", Tracker::Matomo),
            (
                Kind::Outlink,
                "/demarches?page=2",
                "www.service-public.fr/x",
                Tracker::Matomo
            ),
            (
                Kind::Custom,
                "/demarches?page=2",
                "Formulaire / Inscription",
                Tracker::Matomo
            ),
        ]
    );
    let stored = format!("{rows:?}");
    for secret in [
        "0123456789abcdef",
        "fedcba9876543210",
        "jean",
        "203.0.113",
        "Zx9Yw8",
        "Accueil",
    ] {
        assert!(!stored.contains(secret), "{secret} stored: {stored}");
    }
}

#[tokio::test]
async fn matomo_bulk_requests_and_server_side_trackers() {
    let t = test_collector();
    let (addr, _stop) = serve(t.collector.clone()).await;
    let bulk = format!(
        r#"{{"requests": ["?idsite=3&rec=1&{PAGE}", "?idsite=3&rec=1&{PAGE}&download=https%3A%2F%2Fwww.prefecture.gouv.fr%2Frapport.pdf", "?idsite=oops&rec=1", "?idsite=999&rec=1&{PAGE}"], "token_auth": "secret"}}"#
    );
    let answer = send(
        addr,
        browser_request(
            "POST",
            "/matomo.php",
            &[("Content-Type", "application/json")],
            bulk.as_bytes(),
        ),
    )
    .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(
        answer.json(),
        serde_json::json!({"status": "success", "tracked": 2, "invalid": 2, "invalid_indices": [2, 3]})
    );
    // A server-side tracker: no browser headers; the visitor's user agent
    // and language come as parameters.
    let request = format!(
        "GET /matomo.php?idsite=3&rec=1&{PAGE}&ua=Mozilla%2F5.0%20(X11%3B%20Linux%20x86_64%3B%20rv%3A133.0)%20Gecko%2F20100101%20Firefox%2F133.0&lang=fr-FR HTTP/1.1\r\nHost: collector.test\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(send(addr, request.into_bytes()).await.status, 200);
    // Without them it is a robot: acknowledged, not stored.
    let bare = format!(
        "GET /matomo.php?idsite=3&rec=1&{PAGE} HTTP/1.1\r\nHost: collector.test\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(send(addr, bare.into_bytes()).await.status, 200);

    let rows: Vec<EventRow> = t.sink.take();
    let got: Vec<(Kind, &str, &str)> = rows
        .iter()
        .map(|r| (r.kind, &*r.name, &*r.browser))
        .collect();
    assert_eq!(
        got,
        [
            (Kind::Pageview, "", "Chrome"),
            (
                Kind::Download,
                "www.prefecture.gouv.fr/rapport.pdf",
                "Chrome"
            ),
            (Kind::Pageview, "", "Firefox"),
        ]
    );
}

#[tokio::test]
async fn matomo_bad_requests_get_clear_errors() {
    let t = test_collector();
    let (addr, _stop) = serve(t.collector.clone()).await;
    let cases: [(&str, &str, &[u8], u16, &str); 7] = [
        (
            "GET",
            "/matomo.php?idsite=999&rec=1&url=https%3A%2F%2Fa.fr%2F",
            b"",
            400,
            "unknown_site",
        ),
        ("GET", "/matomo.php?idsite=abc&rec=1", b"", 400, "invalid"),
        (
            "GET",
            "/matomo.php?idsite=3&rec=1&url=%FF",
            b"",
            400,
            "invalid",
        ),
        (
            "POST",
            "/matomo.php",
            b"idsite=3&rec=1&url=\xff",
            400,
            "invalid",
        ),
        ("POST", "/matomo.php", b"{\"requests\": 3}", 400, "invalid"),
        ("POST", "/matomo.php", b"{\"requests\": [", 400, "invalid"),
        ("DELETE", "/matomo.php", b"", 405, "method_not_allowed"),
    ];
    for (method, target, body, status, code) in cases {
        let answer = send(addr, browser_request(method, target, &[], body)).await;
        assert_eq!(answer.status, status, "{method} {target}");
        assert_eq!(answer.json()["error"], code, "{method} {target}");
    }
    let huge = vec![b'{'; mesure_collector::wire::matomo::MAX_BULK_BODY + 1];
    let answer = send(addr, browser_request("POST", "/matomo.php", &[], &huge)).await;
    assert_eq!(answer.status, 413);
    assert!(t.sink.take().is_empty());
    // Every request received ends as one drop: an unknown site, the rest
    // invalid (the `DELETE` is not a request to track).
    let metric = |name| common::metric(addr, name);
    assert_eq!(
        metric("mesure_hits_received_total{endpoint=\"matomo\"}").await,
        7
    );
    assert_eq!(
        metric("mesure_hits_dropped_total{reason=\"unknown_site\"}").await,
        1
    );
    assert_eq!(
        metric("mesure_hits_dropped_total{reason=\"invalid\"}").await,
        6
    );
}

/// Every Matomo request received ends in exactly one place: accepted, or
/// dropped with a reason. Before, a `HEAD` was stored as a view, and a
/// request asking nothing recorded was counted as received and nothing else.
#[tokio::test]
async fn every_matomo_request_has_exactly_one_outcome() {
    let t = test_collector();
    let (addr, _stop) = serve(t.collector.clone()).await;
    let page = format!("/matomo.php?idsite=3&rec=1&{PAGE}");
    let head = send(addr, browser_request("HEAD", &page, &[], b"")).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type").as_deref(), Some("image/gif"));
    assert!(t.sink.take().is_empty(), "a HEAD is not a view");
    for query in [
        format!("idsite=3&{PAGE}"),
        format!("idsite=3&rec=0&{PAGE}"),
        "idsite=3&rec=1&ping=1".to_owned(),
    ] {
        let answer = send(
            addr,
            browser_request("GET", &format!("/matomo.php?{query}"), &[], b""),
        )
        .await;
        assert_eq!(answer.status, 200, "{query}");
    }
    assert_eq!(
        send(addr, browser_request("GET", &page, &[], b""))
            .await
            .status,
        200
    );
    assert_eq!(t.sink.take().len(), 1);
    let metric = |name| common::metric(addr, name);
    assert_eq!(
        metric("mesure_hits_received_total{endpoint=\"matomo\"}").await,
        4,
        "the HEAD is not counted as received"
    );
    assert_eq!(
        metric("mesure_hits_dropped_total{reason=\"not_recorded\"}").await,
        3
    );
    assert_eq!(metric("mesure_hits_accepted_total").await, 1);
}

/// A sink with room for `room` rows: what a spool close to full does.
#[derive(Debug)]
struct Nearly {
    room: std::sync::Mutex<usize>,
    inner: mesure_collector::delivery::MemorySink,
    metrics: mesure_collector::metrics::Metrics,
}

impl mesure_collector::delivery::Sink for Nearly {
    fn push(&self, rows: mesure_collector::delivery::Rows) -> mesure_collector::delivery::Pending {
        use mesure_collector::delivery::{Pending, count};
        let mut room = self.room.lock().expect("room");
        if rows.len() > *room {
            let outcome = Err(mesure_collector::event::DropReason::Overloaded);
            count(&self.metrics, rows.len(), outcome);
            return Pending::Done(outcome);
        }
        *room -= rows.len();
        self.inner.push(rows)
    }
}

/// Before, the entries of a bulk request were spooled one by one: a `503`
/// halfway left the first ones stored, and the client's retry stored them
/// again. A bulk request is now taken whole or refused whole.
#[tokio::test]
async fn a_matomo_bulk_request_is_stored_whole_or_not_at_all() {
    let metrics = mesure_collector::metrics::Metrics::new();
    let sink = std::sync::Arc::new(Nearly {
        room: std::sync::Mutex::new(2),
        inner: mesure_collector::delivery::MemorySink::new(metrics.clone()),
        metrics: metrics.clone(),
    });
    let collector = common::collector_with(
        std::sync::Arc::clone(&sink) as _,
        metrics,
        std::sync::Arc::new(common::DailySalt { first_day: 0 }),
        std::sync::Arc::new(mesure_collector::clock::FixedClock::new(
            mesure_testkit::clock::fixed_ms(),
        )),
    );
    let (addr, _stop) = serve(std::sync::Arc::new(collector)).await;
    let bulk = |n: usize| {
        let requests = vec![format!(r#""?idsite=3&rec=1&{PAGE}""#); n].join(",");
        browser_request(
            "POST",
            "/matomo.php",
            &[("Content-Type", "application/json")],
            format!(r#"{{"requests": [{requests}]}}"#).as_bytes(),
        )
    };
    let refused = send(addr, bulk(3)).await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.header("retry-after").as_deref(), Some("1"));
    assert!(
        sink.inner.take().is_empty(),
        "nothing of a refused request is kept"
    );
    let taken = send(addr, bulk(2)).await;
    assert_eq!(taken.status, 200);
    assert_eq!(taken.json()["tracked"], 2);
    assert_eq!(sink.inner.take().len(), 2);
    let metric = |name| common::metric(addr, name);
    assert_eq!(metric("mesure_hits_accepted_total").await, 2);
    assert_eq!(
        metric("mesure_hits_dropped_total{reason=\"overloaded\"}").await,
        3
    );
}

/// Before, Plausible's `d=` dropped a leading `www.` before looking the
/// site up: a site registered only as `www.mairie.fr` was unknown to its
/// own snippet, and got no CORS header.
#[tokio::test]
async fn a_site_registered_under_one_form_of_its_domain_takes_plausible_hits() {
    let t = test_collector();
    let (addr, _stop) = serve(t.collector.clone()).await;
    let event = |domain: &str, origin: &str| {
        browser_request(
            "POST",
            "/api/event",
            &[("Content-Type", "text/plain"), ("Origin", origin)],
            format!(r#"{{"n":"pageview","u":"{origin}/","d":"{domain}"}}"#).as_bytes(),
        )
    };
    let preflight = common::preflight;
    for (domain, origin) in [
        ("www.mairie.fr", "https://www.mairie.fr"),
        ("commune.fr", "https://commune.fr"),
    ] {
        let answer = send(addr, event(domain, origin)).await;
        assert_eq!(
            answer.status,
            202,
            "{domain}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        assert_eq!(
            answer.header("access-control-allow-origin").as_deref(),
            Some(origin),
            "{domain}"
        );
        let answer = send(addr, preflight(origin)).await;
        assert_eq!(
            answer.header("access-control-allow-origin").as_deref(),
            Some(origin),
            "{domain}: preflight"
        );
    }
    let sites: Vec<String> = t
        .sink
        .take()
        .iter()
        .map(|r| r.site_id.to_string())
        .collect();
    assert_eq!(sites, ["mairie", "commune"]);
    // The other form is not the site's: unknown, and no CORS for it.
    let answer = send(addr, event("mairie.fr", "https://mairie.fr")).await;
    assert_eq!(answer.status, 404);
    assert!(answer.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn plausible_payloads_and_hash_routing() {
    let t = test_collector();
    let (addr, _stop) = serve(t.collector.clone()).await;
    let event = |body: &str| {
        browser_request(
            "POST",
            "/api/event",
            &[
                ("Content-Type", "application/json"),
                ("Origin", "https://www.prefecture.gouv.fr"),
            ],
            body.as_bytes(),
        )
    };
    for body in [
        r#"{"n":"pageview","u":"https://www.prefecture.gouv.fr/#/demarches/jean.dupont@mail.fr?token=x","d":"prefecture.gouv.fr","r":null,"h":1}"#,
        r#"{"n":"pageview","u":"https://www.prefecture.gouv.fr/a#section","d":"prefecture.gouv.fr","r":null}"#,
        r#"{"n":"File Download","u":"https://www.prefecture.gouv.fr/a","d":"prefecture.gouv.fr","p":{"url":"https://www.prefecture.gouv.fr/f.pdf"}}"#,
        // The library's engagement report: acknowledged, not stored.
        r#"{"n":"engagement","sd":60,"d":"prefecture.gouv.fr","u":"https://www.prefecture.gouv.fr/a","p":{},"e":1200,"v":36}"#,
    ] {
        let answer = send(addr, event(body)).await;
        assert_eq!(
            answer.status,
            202,
            "{body}: {}",
            String::from_utf8_lossy(&answer.body)
        );
    }
    let rows = t.sink.take();
    let got = summary(&rows);
    assert_eq!(
        got,
        [
            (
                Kind::Pageview,
                "/#/demarches/[email]",
                "",
                Tracker::Plausible
            ),
            (Kind::Pageview, "/a", "", Tracker::Plausible),
            (
                Kind::Download,
                "/a",
                "www.prefecture.gouv.fr/f.pdf",
                Tracker::Plausible
            ),
        ]
    );
    assert_eq!(
        common::metric(addr, "mesure_hits_dropped_total{reason=\"engagement\"}").await,
        1
    );
}

#[tokio::test]
async fn scripts_are_served_compressed_cached_and_versioned() {
    let t = test_collector();
    let (addr, _stop) = serve(t.collector.clone()).await;
    let get = |path: String, extra: &'static [(&'static str, &'static str)]| {
        send(addr, browser_request("GET", &path, extra, b""))
    };
    let plain = get("/m.js".into(), &[]).await;
    assert_eq!(plain.status, 200);
    assert_eq!(
        plain.header("content-type").as_deref(),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(plain.body, SITE_SCRIPT.body.as_ref());
    assert!(plain.header("set-cookie").is_none());
    let gzipped = get("/m.js".into(), &[("Accept-Encoding", "gzip, br")]).await;
    assert_eq!(gzipped.header("content-encoding").as_deref(), Some("gzip"));
    assert!(
        gzipped.body.len() <= 1024,
        "{} bytes gzipped",
        gzipped.body.len()
    );
    assert!(
        plain
            .header("cache-control")
            .is_some_and(|c| c.contains("max-age=86400"))
    );
    // The versioned name is cached for good; an old version is not.
    let versioned = get(format!("/m-{}.js", SITE_SCRIPT.version), &[]).await;
    assert_eq!(
        versioned.header("cache-control").as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    let old = get("/m-00000000.js".into(), &[]).await;
    assert_eq!(old.body, SITE_SCRIPT.body.as_ref());
    assert!(
        old.header("cache-control")
            .is_some_and(|c| !c.contains("immutable"))
    );
    let etag = plain.header("etag").expect("etag");
    let again = send(
        addr,
        browser_request("GET", "/m.js", &[("If-None-Match", &etag)], b""),
    )
    .await;
    assert_eq!((again.status, again.body.len()), (304, 0));
    // Where Plausible's and Matomo's snippets look for their scripts.
    for path in [
        "/js/script.js",
        "/js/script.outbound-links.file-downloads.hash.js",
        "/js/plausible.js",
    ] {
        let answer = get(path.into(), &[]).await;
        assert_eq!(
            (answer.status, answer.body.as_slice()),
            (200, SITE_SCRIPT.body.as_ref()),
            "{path}"
        );
    }
    for path in ["/matomo.js", "/piwik.js", "/optout.js", "/optout.css"] {
        assert_eq!(get(path.into(), &[]).await.status, 200, "{path}");
    }
    assert_eq!(get("/js/other.js".into(), &[]).await.status, 404);
    let post = send(addr, browser_request("POST", "/m.js", &[], b"")).await;
    assert_eq!(post.status, 405);
}

#[tokio::test]
async fn the_opt_out_page_speaks_french_and_english() {
    let t = test_collector();
    let (addr, _stop) = serve(t.collector.clone()).await;
    let page = |target: &'static str, language: &'static str| {
        send(
            addr,
            browser_request("GET", target, &[("Accept-Language", language)], b""),
        )
    };
    let french = page("/optout", "fr-FR,fr;q=0.9").await;
    let english = page("/optout", "en-GB,en;q=0.9").await;
    let asked = page("/optout?lang=en", "fr-FR").await;
    for (answer, lang, words) in [
        (&french, "fr", "sans cookie"),
        (&english, "en", "no cookie"),
        (&asked, "en", "no cookie"),
    ] {
        assert_eq!(answer.status, 200);
        let html = String::from_utf8_lossy(&answer.body);
        assert!(
            html.contains(&format!("<html lang=\"{lang}\">")) && html.contains(words),
            "{html}"
        );
        assert!(
            answer
                .header("content-security-policy")
                .is_some_and(|c| c.contains("default-src 'self'"))
        );
        assert!(answer.header("set-cookie").is_none());
    }
}
