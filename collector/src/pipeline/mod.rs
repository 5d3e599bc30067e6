//! The enrichment pipeline: a hit and its request in, an anonymous row or a
//! drop reason out. Each step is a named function returning the enriched
//! event or a [`DropReason`], in the order of the data flow
//! (`ARCHITECTURE.md`):
//!
//! registry known → site → origin → privacy signals → user agent (its
//! facts, robots, prefetches) → event rules → client address → truncation →
//! geolocation → visitor hash → page URL → session and acquisition → row.
//!
//! Architecture invariant: the full client address and the full user agent
//! live only in this function's frame; what leaves it is the row.

pub mod agent;
pub mod geo;
pub mod headers;
pub mod network;
pub mod page;
pub mod privacy;
pub mod referrer;
pub mod session;
pub mod visitor;

use crate::clock::Clock;
use crate::event::{Device, DropReason, Kind, Tracker};
use crate::row::{EventRow, Text};
use crate::sites::{Mode, Registry, Site, SiteIndex};
use crate::wire::{Hit, SiteKey};
use agent::{AgentFacts, Agents};
use geo::LiveGeo;
use headers::Headers;
use http::HeaderMap;
use network::Network;
use referrer::Referrers;
use session::Sessions;
use std::net::IpAddr;
use std::sync::Arc;
use visitor::{SaltSource, utc_day, visitor_id};

/// What the HTTP layer knows of a hit's request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub peer: IpAddr,
    pub headers: &'a HeaderMap,
}

#[derive(Debug)]
pub struct Pipeline {
    pub registry: Arc<Registry>,
    pub agents: Arc<Agents>,
    pub geo: Arc<LiveGeo>,
    pub referrers: Arc<Referrers>,
    pub salts: Arc<dyn SaltSource>,
    pub sessions: Arc<Sessions>,
    pub network: Network,
    pub clock: Arc<dyn Clock>,
    /// Drop hits that carry DNT or GPC (the default).
    pub honor_signals: bool,
}

impl Pipeline {
    pub fn process(&self, hit: &Hit, request: &Request<'_>) -> Result<EventRow, DropReason> {
        let now = self.clock.now_ms();
        if !self.registry.is_known() {
            return Err(DropReason::NoRegistry);
        }
        let sites = self.registry.current();
        let site = find_site(&sites, &hit.site)?;
        let headers = Headers::scan(request.headers);
        check_origin(site, headers.origin)?;
        privacy::check(hit, &headers, self.honor_signals)?;
        let user_agent = hit.user_agent.as_deref().unwrap_or(headers.user_agent);
        let agent = self.agents.facts(user_agent);
        check_bot(&agent, &headers, hit.language)?;
        let name = event_name(hit, site)?;
        let ip = self.network.client_ip(request.peer, request.headers);
        let truncated = self.network.truncate(ip);
        let place = self.geo.current().lookup(truncated);
        let salt = self.salts.salt(utc_day(now)).ok_or(DropReason::NoSalt)?;
        let visitor = visitor_id(&salt, &site.id, ip, user_agent);
        let page = page::sanitise(page_url(hit, headers.referer)?, site, hit.hash_routing)?;
        let session = self.sessions.assign(visitor, now, || {
            self.referrers
                .classify(hit.referrer.as_deref(), page.campaign.clone(), site)
        });
        let acquisition = &session.acquisition;
        let campaign = &acquisition.campaign;
        Ok(EventRow {
            site_id: site.id.clone(),
            ts: now,
            kind: hit.kind,
            name,
            visitor_id: visitor,
            session_id: session.id,
            session_start: u32::try_from(session.start_ms.div_euclid(1000)).unwrap_or(0),
            hostname: page.hostname,
            path: page.path,
            referrer_host: acquisition.referrer_host.clone(),
            referrer_source: acquisition.referrer_source.clone(),
            channel: acquisition.channel,
            utm_source: campaign.source.clone(),
            utm_medium: campaign.medium.clone(),
            utm_campaign: campaign.campaign.clone(),
            utm_content: campaign.content.clone(),
            utm_term: campaign.term.clone(),
            country_code: place.country_code.clone(),
            region: place.region.clone(),
            city: if site.city {
                place.city.clone()
            } else {
                Text::default()
            },
            browser: agent.browser.clone(),
            browser_version: agent.browser_version.clone(),
            os: agent.os.clone(),
            os_version: agent.os_version.clone(),
            device: match (agent.device, hit.screen_width) {
                (Device::Unknown, Some(width)) => agent::device_from_width(width),
                (device, _) => device,
            },
            props: props(hit, site),
            tracker: hit.tracker,
            hit: session.hit,
            gap_s: session.gap_s,
        })
    }
}

/// Step: the hit names a registered site.
fn find_site<'a>(sites: &'a SiteIndex, key: &SiteKey) -> Result<&'a Site, DropReason> {
    let site = match key {
        SiteKey::Id(id) => sites.by_id(id),
        SiteKey::Domain(domain) => sites.by_domain(domain),
        SiteKey::Matomo(id) => sites.by_matomo_id(*id),
    };
    site.map(Arc::as_ref).ok_or(DropReason::UnknownSite)
}

/// Step: a browser's `Origin`, when sent, is one of the site's hosts.
fn check_origin(site: &Site, origin: &str) -> Result<(), DropReason> {
    if origin.is_empty() || origin == "null" {
        return Ok(());
    }
    match page::web_host(origin) {
        Some(host) if site.has_host(&host) => Ok(()),
        _ => Err(DropReason::WrongOrigin),
    }
}

/// Step: robots by user agent, by missing browser headers, and prefetches.
fn check_bot(agent: &AgentFacts, headers: &Headers<'_>, language: bool) -> Result<(), DropReason> {
    if agent.bot || !(headers.accept_language || language) {
        return Err(DropReason::Bot);
    }
    if headers.prefetch {
        return Err(DropReason::Prefetch);
    }
    Ok(())
}

/// Step: the stored name. Custom events must be allowed by the site;
/// outbound links and downloads store their target's host and path.
fn event_name(hit: &Hit, site: &Site) -> Result<String, DropReason> {
    match hit.kind {
        Kind::Pageview => Ok(String::new()),
        Kind::Custom if site.allows_event(&hit.name) => Ok(hit.name.clone()),
        Kind::Custom => Err(DropReason::EventNotAllowed),
        Kind::Outlink | Kind::Download => Ok(hit
            .target
            .as_deref()
            .and_then(page::target)
            .unwrap_or_default()),
    }
}

/// The page: the hit's URL, or for the pixel the page that embeds it.
fn page_url<'a>(hit: &'a Hit, referer: &'a str) -> Result<&'a str, DropReason> {
    match (&hit.url, hit.tracker) {
        (Some(url), _) => Ok(url),
        (None, Tracker::Pixel) => {
            if referer.is_empty() {
                Err(DropReason::Invalid)
            } else {
                Ok(referer)
            }
        }
        (None, _) => Err(DropReason::Invalid),
    }
}

/// Event properties: consent mode only, values redacted like URLs.
fn props(hit: &Hit, site: &Site) -> std::collections::BTreeMap<String, String> {
    if site.mode != Mode::Consent || hit.kind == Kind::Pageview {
        return Default::default();
    }
    hit.props
        .iter()
        .map(|(k, v)| (k.clone(), page::redact_value(v).into_owned()))
        .collect()
}
