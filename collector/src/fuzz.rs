//! Entry points for the fuzz targets (`fuzz/`), shared with the test that
//! replays their corpus in `make test`: one per parser that sees untrusted
//! bytes. Each must return, whatever the input, without panicking.

use crate::clock::FixedClock;
use crate::event::Tracker;
use crate::pipeline::agent::Agents;
use crate::pipeline::geo::{Geo, LiveGeo};
use crate::pipeline::network::{ForwardedHeader, Network};
use crate::pipeline::referrer::Referrers;
use crate::pipeline::session::Sessions;
use crate::pipeline::{Pipeline, Request, page};
use crate::salt::FixedSalt;
use crate::sites::{Mode, Registry, Site, SiteIndex, SiteRow};
use crate::wire;
use http::{HeaderMap, HeaderName, HeaderValue};
use std::sync::{Arc, LazyLock};

/// A fuzz target: any bytes in, no panic.
pub type Target = fn(&[u8]);

/// The targets, by name: the name is also the corpus folder.
pub const TARGETS: &[(&str, Target)] = &[
    ("pixel_query", pixel_query),
    ("beacon", beacon),
    ("matomo", matomo),
    ("page_url", page_url),
    ("referrer", referrer),
    ("user_agent", user_agent),
    ("forwarded", forwarded),
    ("hit", hit),
];

static PIPELINE: LazyLock<Pipeline> = LazyLock::new(|| {
    let mut consent = SiteRow::new("ville", &["*.ville.fr"]);
    consent.mode = Mode::Consent;
    let mut exempt = SiteRow::new("prefecture", &["www.prefecture.gouv.fr"]);
    exempt.allowed_params = vec!["page".into(), "q".into()];
    exempt.allowed_events = vec!["Inscription".into()];
    let sites = [consent, exempt]
        .iter()
        .filter_map(|row| Site::from_row(row).ok())
        .collect::<Vec<_>>();
    Pipeline {
        registry: Arc::new(Registry::new(SiteIndex::new(sites))),
        agents: Arc::new(Agents::new(10_000).expect("agent rules")),
        geo: Arc::new(LiveGeo::fixed(Geo::empty())),
        referrers: Arc::new(Referrers::new().expect("referrers")),
        salts: Arc::new(FixedSalt([7; 16])),
        sessions: Arc::new(Sessions::new(30, 10_000)),
        network: Network::new(
            vec!["10.0.0.0/8".parse().expect("net")],
            Default::default(),
            24,
            48,
        )
        .expect("network"),
        clock: Arc::new(FixedClock::new(1_795_428_000_000)),
        honor_signals: true,
    }
});

fn site(consent: bool) -> Arc<Site> {
    let id = if consent { "ville" } else { "prefecture" };
    Arc::clone(PIPELINE.registry.current().by_id(id).expect("fuzz site"))
}

fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

pub fn pixel_query(data: &[u8]) {
    let _ = wire::parse_pixel(&text(data));
}

pub fn beacon(data: &[u8]) {
    let _ = wire::parse_beacon(data, Tracker::Script);
}

/// Matomo's tracking API: parameters, or a bulk body.
pub fn matomo(data: &[u8]) {
    if wire::matomo::is_bulk(data) {
        let _ = wire::parse_matomo_bulk(data);
    } else {
        let _ = wire::parse_matomo(&text(data));
    }
}

pub fn page_url(data: &[u8]) {
    let (first, rest) = data.split_first().unwrap_or((&0, &[]));
    let url = text(rest);
    let _ = page::sanitise(&url, &site(first % 2 == 0), first % 3 == 0);
    let _ = page::target(&url);
    let _ = page::redact_value(&url);
}

pub fn referrer(data: &[u8]) {
    let _ = PIPELINE
        .referrers
        .classify(Some(&text(data)), page::Campaign::default(), &site(false));
}

pub fn user_agent(data: &[u8]) {
    let _ = PIPELINE.agents.facts(&text(data));
}

/// Header lines `name: value`, as a proxy would have forwarded them.
fn headers(data: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in data.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(line[..colon].trim_ascii()),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    headers
}

/// Forwarding headers, read as each of the two settings reads them.
pub fn forwarded(data: &[u8]) {
    static FORWARDED: LazyLock<Network> = LazyLock::new(|| {
        Network::new(
            vec!["10.0.0.0/8".parse().expect("net")],
            ForwardedHeader::Forwarded,
            24,
            48,
        )
        .expect("network")
    });
    let headers = headers(data);
    let peer = [10, 0, 0, 1].into();
    for network in [&PIPELINE.network, &*FORWARDED] {
        let ip = network.client_ip(peer, &headers);
        let _ = network.truncate(ip);
    }
}

/// A whole hit: headers, a blank line, then a pixel query or a beacon body.
pub fn hit(data: &[u8]) {
    let split = data
        .windows(2)
        .position(|w| w == b"\n\n")
        .unwrap_or(data.len());
    let headers = headers(&data[..split]);
    let body = data.get(split + 2..).unwrap_or_default();
    let request = Request {
        peer: [10, 0, 0, 1].into(),
        headers: &headers,
    };
    let matomo = match wire::parse_matomo(&text(body)) {
        Ok(wire::matomo::Request::Hit(hit)) => Ok(hit),
        _ => Err(()),
    };
    for hit in [
        wire::parse_pixel(&text(body)).map_err(|_| ()),
        wire::parse_beacon(body, Tracker::Script).map_err(|_| ()),
        matomo,
    ]
    .into_iter()
    .flatten()
    {
        let _ = PIPELINE.process(&hit, &request);
    }
}
