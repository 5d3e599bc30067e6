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
