//! Bad input over a real socket: every malformed or hostile request gets the
//! GIF or a clear 4xx (with a JSON error from the event API), never a 5xx or
//! a crash, and stores nothing.

mod common;

use common::{browser_request, raw_request, serve, test_collector};

const PAGE: &str = "u=https%3A%2F%2Fwww.prefecture.gouv.fr%2F";

enum Expect {
    /// The pixel: 200 and the GIF.
    Gif,
    /// A 4xx with `{"error": ...}`.
    JsonError(u16),
    /// A 4xx from the HTTP layer (no body contract).
    Status(u16),
}

fn cases() -> Vec<(&'static str, Vec<u8>, Expect)> {
    use Expect::*;
    let json = [("Content-Type", "application/json")];
    let post = |body: &[u8]| browser_request("POST", "/api/event", &json, body);
    vec![
        ("malformed query", browser_request("GET", "/p.gif?&&==&s&u=%%%", &[], b""), Gif),
        ("invalid UTF-8 in a value", browser_request("GET", &format!("/p.gif?s=prefecture&u=%C3%28&{PAGE}"), &[], b""), Gif),
        ("invalid UTF-8 in a key", browser_request("GET", "/p.gif?s=prefecture&%FF=1", &[], b""), Gif),
        ("huge number", browser_request("GET", &format!("/p.gif?s=prefecture&{PAGE}&w=99999999999999999999999"), &[], b""), Gif),
        ("unknown site", browser_request("GET", &format!("/p.gif?s=unknown&{PAGE}"), &[], b""), Gif),
        ("no site", browser_request("GET", &format!("/p.gif?{PAGE}"), &[], b""), Gif),
        ("page of another site", browser_request("GET", "/p.gif?s=prefecture&u=https%3A%2F%2Fevil.example%2F", &[], b""), Gif),
        ("javascript page", browser_request("GET", "/p.gif?s=prefecture&u=javascript%3Aalert(1)", &[], b""), Gif),
        ("header injection in a value", browser_request("GET", &format!("/p.gif?s=prefecture%0d%0aSet-Cookie:%20x=1&{PAGE}"), &[], b""), Gif),
        ("oversized query", browser_request("GET", &format!("/p.gif?s=prefecture&{PAGE}&x={}", "a".repeat(9000)), &[], b""), Gif),
        ("oversized page URL", browser_request("GET", &format!("/p.gif?s=prefecture&u=https%3A%2F%2Fwww.prefecture.gouv.fr%2F{}", "a".repeat(3000)), &[], b""), Gif),
        ("invalid JSON", post(b"{\"s\":"), JsonError(400)),
        ("JSON array", post(b"[]"), JsonError(400)),
        ("empty body", post(b""), JsonError(400)),
        ("invalid UTF-8 body", post(b"{\"s\":\"\xff\xfe\"}"), JsonError(400)),
        ("wrong types", post(b"{\"s\":[\"prefecture\"],\"u\":1}"), JsonError(400)),
        ("nested properties", post(b"{\"s\":\"prefecture\",\"u\":\"https://www.prefecture.gouv.fr/\",\"p\":{\"a\":[1]}}"), JsonError(400)),
        ("unknown site beacon", post(b"{\"s\":\"unknown\",\"u\":\"https://x.fr/\"}"), JsonError(404)),
        ("wrong origin", browser_request("POST", "/api/event", &[("Content-Type", "application/json"), ("Origin", "https://evil.example")], b"{\"s\":\"prefecture\",\"u\":\"https://www.prefecture.gouv.fr/\"}"), JsonError(403)),
        ("oversized body", post(format!("{{\"s\":\"prefecture\",\"x\":\"{}\"}}", "a".repeat(20_000)).as_bytes()), JsonError(413)),
        ("wrong content type", browser_request("POST", "/api/event", &[("Content-Type", "multipart/form-data; boundary=x")], b"--x--"), JsonError(415)),
        ("wrong method on the pixel", browser_request("POST", "/p.gif?s=prefecture", &[], b""), JsonError(405)),
        ("wrong method on the API", browser_request("GET", "/api/event", &[], b""), JsonError(405)),
        ("delete", browser_request("DELETE", "/api/event", &[], b""), JsonError(405)),
        ("unknown path", browser_request("GET", "/wp-admin.php", &[], b""), JsonError(404)),
        ("path traversal", browser_request("GET", "/p.gif/../../etc/passwd", &[], b""), JsonError(404)),
        ("encoded traversal", browser_request("GET", "/%2e%2e/%2e%2e/etc/passwd", &[], b""), JsonError(404)),
        ("oversized headers", browser_request("GET", "/p.gif?s=prefecture", &[("X-Padding", &"a".repeat(20_000))], b""), Status(431)),
        ("garbage request line", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(), Status(400)),
        ("non-ASCII in the target", b"GET /p.gif?s=\xc3\xa9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), Gif),
        ("bad chunked body", b"POST /api/event HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n".to_vec(), JsonError(400)),
        ("content length mismatch", b"POST /api/event HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}".to_vec(), Status(400)),
    ]
}

#[tokio::test]
async fn bad_requests_are_refused_cleanly_and_store_nothing() {
    let t = test_collector();
    let (addr, _stop) = serve(t.collector.clone()).await;
    for (name, request, expect) in cases() {
        let answer = tokio::task::spawn_blocking(move || raw_request(addr, &request))
            .await
            .expect("request");
        assert!(answer.status != 0, "{name}: no answer");
        assert!(answer.status < 500, "{name}: {}", answer.status);
        assert!(answer.header("set-cookie").is_none(), "{name}");
        match expect {
            Expect::Gif => {
                assert_eq!(answer.status, 200, "{name}");
                assert_eq!(answer.body, mesure_collector::server::GIF, "{name}");
                assert_eq!(
                    answer.header("cache-control").as_deref(),
                    Some("no-store"),
                    "{name}"
                );
            }
            Expect::JsonError(status) => {
                assert_eq!(answer.status, status, "{name}");
                let error = answer.json();
                assert!(
                    error["error"].is_string() && error["message"].is_string(),
                    "{name}: {error}"
                );
            }
            Expect::Status(status) => assert_eq!(answer.status, status, "{name}"),
        }
        assert!(t.sink.take().is_empty(), "{name}: a row was stored");
    }
    // And the service still works.
    let answer = tokio::task::spawn_blocking(move || {
        raw_request(
            addr,
            &browser_request("GET", &format!("/p.gif?s=prefecture&{PAGE}"), &[], b""),
        )
    })
    .await
    .expect("request");
    assert_eq!(answer.status, 200);
    assert_eq!(t.sink.take().len(), 1);
}

/// Hostile values, each put in every parameter of a hit that can never be
/// stored (its site is unknown), in a query string and in a JSON beacon.
const HOSTILE: &[&str] = &[
    "%00",
    "%FF%FE%FD",
    "%C0%AF",
    "%ED%A0%80",
    "a%0d%0aSet-Cookie:%20x=1",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "'%20OR%201=1--",
    "1e309",
    "-1",
    "99999999999999999999999999",
    "%E2%80%AE%E2%80%8B",
    "%F0%9F%92%A9",
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "%25%25%25",
    "[]",
    "{}",
    "%7B%22a%22%3A%7B%22b%22%3A1%7D%7D",
];

const KEYS: &[&str] = &["s", "d", "u", "r", "k", "n", "t", "w", "p", "o"];

fn hostile_corpus() -> Vec<(String, Vec<u8>)> {
    let mut corpus = Vec::new();
    for key in KEYS {
        for value in HOSTILE {
            let site = if *key == "s" { "" } else { "s=unknown-site&" };
            corpus.push((
                format!("pixel {key}={value}"),
                browser_request("GET", &format!("/p.gif?{site}{key}={value}"), &[], b""),
            ));
            let decoded = percent_encoding::percent_decode_str(value)
                .decode_utf8_lossy()
                .into_owned();
            let mut object = serde_json::Map::new();
            object.insert("s".into(), "unknown-site".into());
            object.insert((*key).into(), serde_json::Value::String(decoded));
            corpus.push((
                format!("beacon {key}={value}"),
                browser_request(
                    "POST",
                    "/api/event",
                    &[("Content-Type", "application/json")],
                    serde_json::Value::Object(object).to_string().as_bytes(),
                ),
            ));
        }
    }
    let methods = [
        "PUT", "DELETE", "PATCH", "TRACE", "CONNECT", "PROPFIND", "POST", "HEAD", "GET",
    ];
    let paths = [
        "/p.gif/",
        "/P.GIF",
        "/p.gif%00",
        "//p.gif",
        "/p.gif;jsessionid=1",
        "/../p.gif",
        "/m.js/../../etc/passwd",
        "/m.js%2f..%2f..%2fetc%2fpasswd",
        "/js/../../../../etc/shadow",
        "/api//event",
        "/api/event/",
        "/api/event%00",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/.env",
        "/metrics/../readyz/../../etc",
    ];
    for method in methods {
        for path in paths {
            if method == "CONNECT" {
                continue; // CONNECT takes an authority, not a path
            }
            corpus.push((
                format!("{method} {path}"),
                browser_request(method, path, &[], b""),
            ));
        }
    }
    for method in ["PUT", "DELETE", "PATCH", "GET", "HEAD"] {
        corpus.push((
            format!("{method} on the event API"),
            browser_request(method, "/api/event", &[], b"{}"),
        ));
    }
    let long_path = format!("/{}", "a".repeat(12_000));
    corpus.push((
        "very long path".into(),
        browser_request("GET", &long_path, &[], b""),
    ));
    let spoofs = [
        "6.6.6.6",
        "::1",
        "unknown",
        "127.0.0.1, 10.0.0.1",
        &"1.".repeat(3000),
        "for=\"[::1]\"",
    ];
    for spoof in spoofs {
        for header in ["X-Forwarded-For", "Forwarded", "X-Real-IP"] {
            corpus.push((
                format!("spoofed {header}: {}", &spoof[..spoof.len().min(20)]),
                browser_request("GET", "/p.gif?s=unknown-site", &[(header, spoof)], b""),
            ));
        }
    }
    let raw: &[(&str, &[u8])] = &[
        ("two content lengths", b"POST /api/event HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}"),
        ("chunked and content length", b"POST /api/event HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"),
        ("chunk larger than announced", b"POST /api/event HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{\"s\":\"unknown-site\"}\r\n0\r\n\r\n"),
        ("huge chunk size", b"POST /api/event HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\n{}\r\n0\r\n\r\n"),
        ("truncated body", b"POST /api/event HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{\"s\":\"unknown-site\""),
        ("truncated head", b"GET /p.gif?s=unknown-site HTTP/1.1\r\nHost: x\r\n"),
        ("header without colon", b"GET /p.gif?s=unknown-site HTTP/1.1\r\nHost x\r\nConnection: close\r\n\r\n"),
        ("header with NUL", b"GET /p.gif?s=unknown-site HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\nConnection: close\r\n\r\n"),
        ("bare LF line ends", b"GET /p.gif?s=unknown-site HTTP/1.1\nHost: x\nConnection: close\n\n"),
        ("HTTP/0.9", b"GET /p.gif?s=unknown-site\r\n\r\n"),
        ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        ("absolute-form target", b"GET http://evil.example/p.gif?s=unknown-site HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        ("asterisk target", b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        ("TLS on a plain port", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"),
        ("empty", b"\r\n\r\n"),
    ];
    for (name, bytes) in raw {
        corpus.push(((*name).to_owned(), bytes.to_vec()));
    }
    let many_headers: Vec<(String, String)> =
        (0..150).map(|i| (format!("X-H{i}"), "v".into())).collect();
    let many: Vec<(&str, &str)> = many_headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    corpus.push((
        "150 headers".into(),
        browser_request("GET", "/p.gif?s=unknown-site", &many, b""),
    ));
    for content_type in [
        "text/html",
        "application/xml",
        "application/x-www-form-urlencoded",
        "image/png",
        "application/json; charset=utf-16",
    ] {
        corpus.push((
            format!("content type {content_type}"),
            browser_request(
                "POST",
                "/api/event",
                &[("Content-Type", content_type)],
                b"{\"s\":\"unknown-site\"}",
            ),
        ));
    }
    corpus
}

#[tokio::test]
async fn a_corpus_of_hostile_requests_gets_the_gif_or_a_4xx_and_stores_nothing() {
    let t = test_collector();
    let (addr, _stop) = serve(t.collector.clone()).await;
    let corpus = hostile_corpus();
    assert!(corpus.len() >= 200, "{} requests", corpus.len());
    // In parallel: truncated requests wait for the server's read timeouts.
    let answers = tokio::task::spawn_blocking(move || {
        let chunks: Vec<Vec<(String, Vec<u8>)>> = corpus.chunks(16).map(<[_]>::to_vec).collect();
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..16)
                .map(|i| {
                    let mine: Vec<(String, Vec<u8>)> =
                        chunks.iter().filter_map(|c| c.get(i).cloned()).collect();
                    scope.spawn(move || {
                        mine.into_iter()
                            .map(|(name, request)| {
                                let answer = raw_request(addr, &request);
                                (name, answer)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("worker"))
                .collect::<Vec<_>>()
        })
    })
    .await
    .expect("requests");
    for (name, answer) in &answers {
        // 0: the server closed the connection without an answer (bytes that are not HTTP).
        assert!(answer.status < 500, "{name}: {}", answer.status);
        assert!(answer.header("set-cookie").is_none(), "{name}");
        let gif = answer.status == 200 && answer.body == mesure_collector::server::GIF;
        let refused =
            (400..500).contains(&answer.status) || answer.status == 0 || answer.status == 204;
        assert!(
            gif || refused,
            "{name}: {} {:?}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
        let json = answer.header("content-type").as_deref() == Some("application/json");
        // A HEAD answer has the JSON error's headers but no body.
        if json && answer.status >= 400 && !name.starts_with("HEAD") {
            assert!(answer.json()["error"].is_string(), "{name}");
        }
    }
    assert!(t.sink.take().is_empty(), "a hostile request was stored");
    let closed = answers.iter().filter(|(_, a)| a.status == 0).count();
    assert!(closed <= 3, "{closed} connections closed without an answer");
}
