//! The exempt mode's rules, one test each, over HTTP: the same hits sent to
//! an exempt site (`prefecture`) and to a consent-mode site (`ville`).
//! Exempt: no campaign parameter kept (neither in the page's address nor in
//! the campaign columns), only the allowed event names, no event property.
//! Both: a referrer is its host only.

mod common;

use common::{browser_request, send, serve, test_collector};
use mesure_collector::event::Kind;
use mesure_collector::row::EventRow;
use std::net::SocketAddr;

const EXEMPT: (&str, &str) = ("prefecture", "www.prefecture.gouv.fr");
const CONSENT: (&str, &str) = ("ville", "www.ville.fr");

/// Sends one pixel hit for `(site, host)`: the page `path_and_query`, and
/// `extra` parameters.
async fn hit(addr: SocketAddr, (site, host): (&str, &str), path_and_query: &str, extra: &str) {
    let url: String =
        form_urlencoded::byte_serialize(format!("https://{host}{path_and_query}").as_bytes())
            .collect();
    let answer = send(
        addr,
        browser_request("GET", &format!("/p.gif?s={site}&u={url}{extra}"), &[], b""),
    )
    .await;
    assert_eq!(answer.status, 200, "{site} {path_and_query} {extra}");
}

/// The rows the hits of `send` made, for each site.
async fn rows_of(extra: &str, path_and_query: &str) -> (Vec<EventRow>, Vec<EventRow>) {
    let t = test_collector();
    let (addr, _stop) = serve(t.collector.clone()).await;
    hit(addr, EXEMPT, path_and_query, extra).await;
    let exempt = t.sink.take();
    hit(addr, CONSENT, path_and_query, extra).await;
    let consent = t.sink.take();
    (exempt, consent)
}

#[tokio::test]
async fn exempt_sites_keep_no_campaign_parameter() {
    let campaign = "/actualites?page=2&utm_source=lettre&utm_medium=email&utm_campaign=hiver\
                    &gclid=GCLID7&fbclid=FBCLID7&msclkid=MSCLKID7&pk_campaign=PK7&mtm_source=MTM7";
    let (exempt, consent) = rows_of("", campaign).await;
    let [exempt] = exempt.as_slice() else {
        panic!("one row: {exempt:?}");
    };
    // Only the parameter the site keeps; nothing of any campaign.
    assert_eq!(&*exempt.path, "/actualites?page=2");
    assert_eq!(
        (
            &*exempt.utm_source,
            &*exempt.utm_medium,
            &*exempt.utm_campaign
        ),
        ("", "", "")
    );
    let stored = format!("{exempt:?}");
    for marker in [
        "lettre", "hiver", "GCLID7", "FBCLID7", "MSCLKID7", "PK7", "MTM7",
    ] {
        assert!(!stored.contains(marker), "{marker} kept: {stored}");
    }
    // The same hit on a consent site: its campaign is measured.
    let [consent] = consent.as_slice() else {
        panic!("one row: {consent:?}");
    };
    assert_eq!(
        (
            &*consent.utm_source,
            &*consent.utm_medium,
            &*consent.utm_campaign
        ),
        ("lettre", "email", "hiver")
    );
}

#[tokio::test]
async fn exempt_sites_accept_only_their_allowed_event_names() {
    let (exempt, consent) = rows_of("&k=custom&n=Newsletter", "/").await;
    assert!(exempt.is_empty(), "not on the allow-list: {exempt:?}");
    let [consent] = consent.as_slice() else {
        panic!("one row: {consent:?}");
    };
    assert_eq!(
        (consent.kind, consent.name.as_str()),
        (Kind::Custom, "Newsletter")
    );
    // An allowed name is kept.
    let (exempt, _) = rows_of("&k=custom&n=Inscription", "/").await;
    assert_eq!(exempt.len(), 1);
    assert_eq!(exempt[0].name, "Inscription");
}

#[tokio::test]
async fn exempt_sites_keep_no_event_property() {
    let props: String =
        form_urlencoded::byte_serialize(br#"{"offre":"premium","age":"42"}"#).collect();
    let (exempt, consent) = rows_of(&format!("&k=custom&n=Inscription&p={props}"), "/").await;
    let [exempt] = exempt.as_slice() else {
        panic!("one row: {exempt:?}");
    };
    assert!(exempt.props.is_empty(), "{exempt:?}");
    let [consent] = consent.as_slice() else {
        panic!("one row: {consent:?}");
    };
    assert_eq!(
        consent.props.get("offre").map(String::as_str),
        Some("premium")
    );
}

#[tokio::test]
async fn a_referrer_is_its_host_only_in_either_mode() {
    let referrer: String =
        form_urlencoded::byte_serialize(b"https://news.example.net/article/4711?q=Secret4711#part")
            .collect();
    let (exempt, consent) = rows_of(&format!("&r={referrer}"), "/").await;
    for row in exempt.iter().chain(&consent) {
        assert_eq!(&*row.referrer_host, "news.example.net");
        let stored = format!("{row:?}");
        for marker in ["article", "4711", "Secret"] {
            assert!(!stored.contains(marker), "{marker} kept: {stored}");
        }
    }
    assert_eq!((exempt.len(), consent.len()), (1, 1));
}
