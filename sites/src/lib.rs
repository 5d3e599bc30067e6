//! The site registry: which sites may send hits, from which hosts, under
//! which rules, and in which time zone their days are read. It lives in
//! ClickHouse (`sites`), so every collector replica and the dashboard see
//! the same sites; each reloads it every few seconds and swaps the new index
//! in without blocking hits or queries. `network` is how both services
//! read a client's address (through trusted proxies only) and truncate it.

pub mod goals;
pub mod network;

use arc_swap::ArcSwap;
use clickhouse::{Client, Row};
use foldhash::HashMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Text shared by many rows: a site's id is cloned into every row it gets.
pub type Text = Arc<str>;

/// How a site stands towards the CNIL's consent exemption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The default: no campaign parameters, no event properties, an
    /// allow-list of event names; no consent needed.
    Exempt,
    /// The site collects consent itself: campaigns and event properties kept.
    Consent,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Exempt => "exempt",
            Mode::Consent => "consent",
        }
    }

    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "exempt" => Some(Mode::Exempt),
            "consent" => Some(Mode::Consent),
            _ => None,
        }
    }
}

impl Serialize for Mode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i8(match self {
            Mode::Exempt => 1,
            Mode::Consent => 2,
        })
    }
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match i8::deserialize(deserializer)? {
            1 => Ok(Mode::Exempt),
            2 => Ok(Mode::Consent),
            other => Err(serde::de::Error::custom(format!(
                "invalid site mode {other}"
            ))),
        }
    }
}

/// One version of a site, as stored in the `sites` table.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct SiteRow {
    pub site_id: String,
    pub hostnames: Vec<String>,
    pub time_zone: String,
    pub mode: Mode,
    pub allowed_params: Vec<String>,
    pub allowed_events: Vec<String>,
    pub city: bool,
    pub matomo_id: Option<u32>,
    /// The group the dashboard sums page views and visits over; empty for none.
    #[serde(default)]
    pub organisation: String,
    pub updated_at: i64,
    pub deleted: bool,
}

impl SiteRow {
    /// A site in exempt mode, with city precision, in Paris time.
    pub fn new(site_id: &str, hostnames: &[&str]) -> SiteRow {
        SiteRow {
            site_id: site_id.to_owned(),
            hostnames: hostnames.iter().map(|h| (*h).to_owned()).collect(),
            time_zone: "Europe/Paris".to_owned(),
            mode: Mode::Exempt,
            allowed_params: Vec::new(),
            allowed_events: Vec::new(),
            city: true,
            matomo_id: None,
            organisation: String::new(),
            updated_at: 0,
            deleted: false,
        }
    }
}

/// Query parameters that identify campaigns or ad clicks: never kept for a
/// site in exempt mode (CNIL self-assessment criteria).
pub const CAMPAIGN_PARAMS: &[&str] = &[
    "utm_", "gclid", "fbclid", "msclkid", "pk_", "mtm_", "matomo_",
];

/// How many custom event names an exempt site read from the registry may
/// allow (sites saved before the short list).
pub const MAX_EXEMPT_EVENTS: usize = 30;
/// How many an exempt site may be given: a short list, as the consent
/// exemption expects (consent mode for more).
pub const SHORT_EXEMPT_EVENTS: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiteError {
    #[error("site id {0:?} is invalid: use 1 to 64 lowercase letters, digits, '-', '_' or '.'")]
    Id(String),
    #[error("site {0} needs at least one hostname")]
    NoHostname(String),
    #[error(
        "hostname {0:?} is invalid: give a host like example.fr or *.example.fr, without scheme or port"
    )]
    Hostname(String),
    #[error("query parameter {0:?} is invalid")]
    Param(String),
    #[error(
        "query parameter {0:?} identifies campaigns and cannot be kept in exempt mode; use consent mode"
    )]
    CampaignParam(String),
    #[error("event name {0:?} is invalid: 1 to 64 printable characters")]
    Event(String),
    #[error(
        "an exempt site allows at most {SHORT_EXEMPT_EVENTS} event names, a short list as the consent exemption expects; use consent mode for more"
    )]
    TooManyEvents,
    #[error("organisation {0:?} is invalid: at most {MAX_ORGANISATION} printable characters")]
    Organisation(String),
    #[error("time zone {0:?} is unknown")]
    TimeZone(String),
    #[error("hostname {host:?} is already site {site}'s: a hit must belong to one site")]
    HostTaken { host: String, site: String },
    #[error("Matomo id {id} is already site {site}'s: a hit must belong to one site")]
    MatomoIdTaken { id: u32, site: String },
    #[error(transparent)]
    Goal(#[from] goals::GoalError),
}

/// Reading or writing the registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Site(#[from] SiteError),
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
}

/// A host a site sends from: exact, or a domain and its subdomains.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Exact(String),
    Subdomains(String),
}

impl HostPattern {
    /// The domain the index files the pattern under: `example.fr` and
    /// `*.example.fr` share one entry.
    fn domain(&self) -> &str {
        let (HostPattern::Exact(host) | HostPattern::Subdomains(host)) = self;
        host
    }

    fn parse(text: &str) -> Result<HostPattern, SiteError> {
        let lower = text.trim().to_ascii_lowercase();
        let (pattern, host) = match lower.strip_prefix("*.") {
            Some(host) => (HostPattern::Subdomains(host.to_owned()), host),
            None => (HostPattern::Exact(lower.clone()), lower.as_str()),
        };
        let valid = !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if valid {
            Ok(pattern)
        } else {
            Err(SiteError::Hostname(text.to_owned()))
        }
    }

    fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(exact) => host == exact,
            HostPattern::Subdomains(domain) => {
                host == domain
                    || host
                        .strip_suffix(domain.as_str())
                        .is_some_and(|prefix| prefix.ends_with('.'))
            }
        }
    }
}

/// A validated site, as the pipeline uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub id: Text,
    hosts: Vec<HostPattern>,
    pub time_zone: String,
    pub mode: Mode,
    pub allowed_params: Vec<String>,
    pub allowed_events: Vec<String>,
    pub city: bool,
    pub matomo_id: Option<u32>,
    pub organisation: String,
}

/// Longest organisation name.
pub const MAX_ORGANISATION: usize = 120;

impl Site {
    pub fn from_row(row: &SiteRow) -> Result<Site, SiteError> {
        let id = &row.site_id;
        let id_ok = !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
            });
        if !id_ok {
            return Err(SiteError::Id(id.clone()));
        }
        if row.hostnames.is_empty() {
            return Err(SiteError::NoHostname(id.clone()));
        }
        let hosts = row
            .hostnames
            .iter()
            .map(|h| HostPattern::parse(h))
            .collect::<Result<Vec<_>, _>>()?;
        for param in &row.allowed_params {
            let ok = !param.is_empty()
                && param.len() <= 64
                && param.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'[' | b']')
                });
            if !ok {
                return Err(SiteError::Param(param.clone()));
            }
            if row.mode == Mode::Exempt && is_campaign_param(param) {
                return Err(SiteError::CampaignParam(param.clone()));
            }
        }
        for event in &row.allowed_events {
            if event.is_empty() || event.chars().count() > 64 || event.chars().any(char::is_control)
            {
                return Err(SiteError::Event(event.clone()));
            }
        }
        if row.mode == Mode::Exempt && row.allowed_events.len() > MAX_EXEMPT_EVENTS {
            return Err(SiteError::TooManyEvents);
        }
        if row.time_zone.is_empty() {
            return Err(SiteError::TimeZone(row.time_zone.clone()));
        }
        let organisation = row.organisation.trim();
        if organisation.chars().count() > MAX_ORGANISATION
            || organisation.chars().any(char::is_control)
        {
            return Err(SiteError::Organisation(row.organisation.clone()));
        }
        Ok(Site {
            id: id.as_str().into(),
            hosts,
            time_zone: row.time_zone.clone(),
            mode: row.mode,
            allowed_params: row.allowed_params.clone(),
            allowed_events: row.allowed_events.clone(),
            city: row.city,
            matomo_id: row.matomo_id,
            organisation: organisation.to_owned(),
        })
    }

    /// The site's hosts, as written: `example.fr` or `*.example.fr`.
    pub fn host_patterns(&self) -> Vec<String> {
        self.hosts
            .iter()
            .map(|pattern| match pattern {
                HostPattern::Exact(host) => host.clone(),
                HostPattern::Subdomains(domain) => format!("*.{domain}"),
            })
            .collect()
    }

    /// Whether a page or origin host (lowercase, without port) is the site's.
    pub fn has_host(&self, host: &str) -> bool {
        self.hosts.iter().any(|p| p.matches(host))
    }

    pub fn keeps_param(&self, name: &str) -> bool {
        self.allowed_params.iter().any(|p| p == name)
    }

    /// Whether a custom event of this name is accepted: exempt sites accept
    /// only their allow-list; consent sites accept any name unless they list some.
    pub fn allows_event(&self, name: &str) -> bool {
        match self.mode {
            Mode::Exempt => self.allowed_events.iter().any(|e| e == name),
            Mode::Consent => {
                self.allowed_events.is_empty() || self.allowed_events.iter().any(|e| e == name)
            }
        }
    }
}

pub fn is_campaign_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    CAMPAIGN_PARAMS.iter().any(|p| {
        if p.ends_with('_') {
            lower.starts_with(p)
        } else {
            lower == *p
        }
    })
}

/// The sites known at one moment, indexed for the hot path.
#[derive(Debug, Default)]
pub struct SiteIndex {
    by_id: HashMap<String, Arc<Site>>,
    by_host: HashMap<String, Arc<Site>>,
    by_matomo_id: HashMap<u32, Arc<Site>>,
}

impl SiteIndex {
    pub fn new(sites: impl IntoIterator<Item = Site>) -> SiteIndex {
        let mut index = SiteIndex::default();
        for site in sites {
            let site = Arc::new(site);
            for host in &site.hosts {
                index
                    .by_host
                    .insert(host.domain().to_owned(), Arc::clone(&site));
            }
            if let Some(matomo_id) = site.matomo_id {
                index.by_matomo_id.insert(matomo_id, Arc::clone(&site));
            }
            index.by_id.insert(site.id.to_string(), site);
        }
        index
    }

    /// Every site, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Site>> {
        self.by_id.values()
    }

    pub fn by_id(&self, id: &str) -> Option<&Arc<Site>> {
        self.by_id.get(id)
    }

    /// The site a domain belongs to (Plausible's `d`, an `Origin`'s host):
    /// the domain as given, else without its `www.` (Plausible names a site
    /// by its bare domain), each matched exactly or by its closest parent
    /// registered with `*.`.
    pub fn by_domain(&self, domain: &str) -> Option<&Arc<Site>> {
        let domain = domain.trim();
        let bare = domain.strip_prefix("www.");
        for host in std::iter::once(domain).chain(bare) {
            let mut candidate = host;
            loop {
                if let Some(site) = self.by_host.get(candidate).filter(|s| s.has_host(host)) {
                    return Some(site);
                }
                match candidate.split_once('.') {
                    Some((_, parent)) => candidate = parent,
                    None => break,
                }
            }
        }
        None
    }

    pub fn by_matomo_id(&self, id: u32) -> Option<&Arc<Site>> {
        self.by_matomo_id.get(&id)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// The current sites, swapped atomically when reloaded.
///
/// A copy of the last registry read from ClickHouse is kept on local disk
/// (`sites.json` in the spool's directory), so that a collector started
/// while ClickHouse is down serves the sites it knew instead of refusing
/// every hit as an unknown site.
#[derive(Debug, Default)]
pub struct Registry {
    current: ArcSwap<SiteIndex>,
    /// Whether any registry is known yet: from ClickHouse or from the copy.
    known: std::sync::atomic::AtomicBool,
    /// A hash of the copy's last contents, to write it only when it changes.
    saved: std::sync::Mutex<Option<u64>>,
    /// The `sites` table as last loaded (its row count and a hash of its
    /// rows' versions): an unchanged table is not read again.
    loaded: std::sync::Mutex<Option<(u64, u64)>>,
}

fn digest(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

/// The local copy of the registry, in the spool's directory.
pub const SNAPSHOT_FILE: &str = "sites.json";

impl Registry {
    pub fn new(index: SiteIndex) -> Registry {
        Registry {
            current: ArcSwap::from_pointee(index),
            known: true.into(),
            saved: Default::default(),
            loaded: Default::default(),
        }
    }

    pub fn current(&self) -> arc_swap::Guard<Arc<SiteIndex>> {
        self.current.load()
    }

    /// Whether the sites are known: until then hits cannot be judged.
    pub fn is_known(&self) -> bool {
        self.known.load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn replace(&self, index: SiteIndex) {
        self.current.store(Arc::new(index));
        self.known.store(true, std::sync::atomic::Ordering::Release);
    }

    fn install(&self, rows: &[SiteRow]) -> usize {
        let sites = rows.iter().filter_map(|row| match Site::from_row(row) {
            Ok(site) => Some(site),
            Err(error) => {
                tracing::warn!(site = %row.site_id, %error, "invalid site skipped");
                None
            }
        });
        let index = SiteIndex::new(sites);
        let count = index.len();
        self.replace(index);
        count
    }

    /// Starts from the local copy in `dir`, if there is one.
    pub fn restore(&self, dir: &std::path::Path) -> std::io::Result<Option<usize>> {
        let bytes = match std::fs::read(dir.join(SNAPSHOT_FILE)) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        let rows: Vec<SiteRow> = serde_json::from_slice(&bytes).map_err(std::io::Error::other)?;
        let count = self.install(&rows);
        *self
            .saved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(digest(&bytes));
        Ok(Some(count))
    }

    /// Reloads the sites from ClickHouse, and keeps a copy in `dir` when
    /// given. Invalid rows are skipped and logged.
    pub async fn reload(
        &self,
        client: &Client,
        dir: Option<&std::path::Path>,
    ) -> Result<usize, RegistryError> {
        // Read before the rows: a change made in between is read now and
        // seen again next time, never missed.
        let versions: (u64, u64) = client
            .query("SELECT count(), sum(cityHash64(site_id, updated_at, deleted)) FROM sites")
            .fetch_one()
            .await?;
        if *self
            .loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            == Some(versions)
        {
            return Ok(self.current().len());
        }
        let rows = load(client).await?;
        let count = self.install(&rows);
        // Not marked loaded until the copy is saved too, so a failed save
        // is tried again at the next reload.
        let mut saved = true;
        if let Some(dir) = dir {
            let bytes = serde_json::to_vec(&rows).unwrap_or_default();
            let hash = digest(&bytes);
            let changed = *self
                .saved
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                != Some(hash);
            if changed {
                let (path, copy) = (dir.to_path_buf(), bytes);
                let written = tokio::task::spawn_blocking(move || {
                    write_atomically(&path, SNAPSHOT_FILE, &copy)
                })
                .await
                .unwrap_or_else(|join| Err(std::io::Error::other(join)));
                match written {
                    Ok(()) => {
                        *self
                            .saved
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(hash);
                    }
                    Err(error) => {
                        saved = false;
                        tracing::warn!(%error, "local copy of the sites not saved");
                    }
                }
            }
        }
        if saved {
            *self
                .loaded
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(versions);
        }
        Ok(count)
    }
}

/// Replaces `dir/name` with `bytes` at once: a reader sees the old or the new file.
pub fn write_atomically(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, dir.join(name))
}

/// The newest version of every site not deleted. `client` is bound to the
/// Mesure database.
pub async fn load(client: &Client) -> Result<Vec<SiteRow>, RegistryError> {
    Ok(client
        .query(
            "SELECT ?fields FROM (SELECT * FROM sites ORDER BY site_id, updated_at DESC \
             LIMIT 1 BY site_id) WHERE NOT deleted ORDER BY site_id",
        )
        .fetch_all()
        .await?)
}

/// A site as it may be written: valid, and an exempt site's event list
/// short.
pub fn writable(row: &SiteRow) -> Result<Site, SiteError> {
    let site = Site::from_row(row)?;
    if site.mode == Mode::Exempt && site.allowed_events.len() > SHORT_EXEMPT_EVENTS {
        return Err(SiteError::TooManyEvents);
    }
    Ok(site)
}

/// Refuses `site` if another of `others` already has one of its domains or
/// its Matomo id: the collectors would file its hits under one of them.
pub fn unclaimed(site: &Site, others: &[SiteRow]) -> Result<(), SiteError> {
    for other in others.iter().filter(|o| *o.site_id != *site.id) {
        // A stored row that no longer validates claims nothing.
        let Ok(other) = Site::from_row(other) else {
            continue;
        };
        if let Some(host) = site
            .hosts
            .iter()
            .find(|h| other.hosts.iter().any(|o| o.domain() == h.domain()))
        {
            return Err(SiteError::HostTaken {
                host: host.domain().to_owned(),
                site: other.id.to_string(),
            });
        }
        if let Some(id) = site.matomo_id.filter(|id| other.matomo_id == Some(*id)) {
            return Err(SiteError::MatomoIdTaken {
                id,
                site: other.id.to_string(),
            });
        }
    }
    Ok(())
}

/// Adds or replaces a site, after validating it (the time zone by ClickHouse)
/// and checking that no other site has its hosts or Matomo id.
pub async fn put(client: &Client, mut row: SiteRow) -> Result<(), RegistryError> {
    let site = writable(&row)?;
    unclaimed(&site, &load(client).await?)?;
    let valid_zone: u64 = client
        .query("SELECT count() FROM system.time_zones WHERE time_zone = ?")
        .bind(&row.time_zone)
        .fetch_one()
        .await?;
    if valid_zone == 0 {
        return Err(SiteError::TimeZone(row.time_zone).into());
    }
    row.updated_at = now_millis();
    row.deleted = false;
    write(client, &row).await
}

/// Removes a site: no more hits are accepted for it. Its data stays until
/// the retention deletes it.
pub async fn remove(client: &Client, site_id: &str) -> Result<(), RegistryError> {
    let mut row = SiteRow::new(site_id, &[]);
    row.updated_at = now_millis();
    row.deleted = true;
    write(client, &row).await
}

async fn write(client: &Client, row: &SiteRow) -> Result<(), RegistryError> {
    Ok(insert_one(client, "sites", row).await?)
}

/// One row written on its own: a registry's rare changes.
pub async fn insert_one<T>(
    client: &Client,
    table: &str,
    row: &T,
) -> Result<(), clickhouse::error::Error>
where
    T: Row + Serialize + for<'a> Row<Value<'a> = T>,
{
    let mut insert = client.insert::<T>(table).await?;
    insert.write(row).await?;
    insert.end().await?;
    Ok(())
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(hosts: &[&str]) -> Site {
        Site::from_row(&SiteRow::new("s", hosts)).expect("valid site")
    }

    #[test]
    fn host_patterns() {
        let s = site(&["example.fr", "*.gouv.fr"]);
        for (host, expected) in [
            ("example.fr", true),
            ("www.example.fr", false),
            ("gouv.fr", true),
            ("www.interieur.gouv.fr", true),
            ("evilgouv.fr", false),
            ("gouv.fr.evil.com", false),
            ("", false),
        ] {
            assert_eq!(s.has_host(host), expected, "{host}");
        }
    }

    #[test]
    fn invalid_sites_are_refused_with_the_reason() {
        let check = |edit: &dyn Fn(&mut SiteRow), expected: SiteError| {
            let mut row = SiteRow::new("ok", &["example.fr"]);
            edit(&mut row);
            assert_eq!(Site::from_row(&row), Err(expected));
        };
        check(
            &|r| r.site_id = "Bad Id".into(),
            SiteError::Id("Bad Id".into()),
        );
        check(&|r| r.hostnames.clear(), SiteError::NoHostname("ok".into()));
        for bad in [
            "https://example.fr",
            "example.fr:8080",
            "exa mple.fr",
            "*.",
            "a..b",
        ] {
            check(
                &|r| r.hostnames = vec![bad.into()],
                SiteError::Hostname(bad.into()),
            );
        }
        check(
            &|r| r.allowed_params = vec!["a b".into()],
            SiteError::Param("a b".into()),
        );
        for campaign in ["utm_source", "gclid", "pk_campaign", "mtm_kwd", "FBCLID"] {
            check(
                &|r| r.allowed_params = vec![campaign.into()],
                SiteError::CampaignParam(campaign.into()),
            );
        }
        check(
            &|r| r.allowed_events = (0..31).map(|i| format!("e{i}")).collect(),
            SiteError::TooManyEvents,
        );
        check(
            &|r| r.allowed_events = vec!["a\nb".into()],
            SiteError::Event("a\nb".into()),
        );
        check(
            &|r| r.organisation = "é".repeat(MAX_ORGANISATION + 1),
            SiteError::Organisation("é".repeat(MAX_ORGANISATION + 1)),
        );
        check(
            &|r| r.organisation = "a\tb".into(),
            SiteError::Organisation("a\tb".into()),
        );
        let mut grouped = SiteRow::new("ok", &["example.fr"]);
        grouped.organisation = " Ministère ".into();
        let site = Site::from_row(&grouped).expect("valid");
        assert_eq!(site.organisation, "Ministère");
    }

    #[test]
    fn an_exempt_site_is_given_a_short_event_list_and_a_consent_site_any() {
        let mut row = SiteRow::new("ok", &["example.fr"]);
        row.allowed_events = (0..SHORT_EXEMPT_EVENTS).map(|i| format!("e{i}")).collect();
        assert!(writable(&row).is_ok());
        row.allowed_events.push("one more".into());
        assert_eq!(writable(&row).err(), Some(SiteError::TooManyEvents));
        // Still read from the registry, as saved before the short list.
        assert!(Site::from_row(&row).is_ok());
        row.mode = Mode::Consent;
        assert!(writable(&row).is_ok());
    }

    #[test]
    fn consent_mode_may_keep_campaign_params_and_any_event() {
        let mut row = SiteRow::new("ok", &["example.fr"]);
        row.mode = Mode::Consent;
        row.allowed_params = vec!["utm_source".into()];
        let site = Site::from_row(&row).expect("valid");
        assert!(site.allows_event("anything"));
        let exempt = Site::from_row(&SiteRow {
            allowed_events: vec!["signup".into()],
            ..SiteRow::new("ok", &["example.fr"])
        })
        .expect("valid");
        assert!(exempt.allows_event("signup"));
        assert!(!exempt.allows_event("anything"));
    }

    #[test]
    fn index_finds_sites_by_id_domain_and_matomo_id() {
        let mut a = SiteRow::new("a", &["a.fr"]);
        a.matomo_id = Some(7);
        let b = SiteRow::new("b", &["*.b.gouv.fr"]);
        let index = SiteIndex::new([a, b].iter().map(|r| Site::from_row(r).expect("valid")));
        let id = |s: Option<&Arc<Site>>| s.map(|s| s.id.clone());
        assert_eq!(id(index.by_id("a")), Some("a".into()));
        assert_eq!(id(index.by_domain("a.fr")), Some("a".into()));
        assert_eq!(id(index.by_domain("www.a.fr")), Some("a".into()));
        assert_eq!(id(index.by_domain("x.b.gouv.fr")), Some("b".into()));
        assert_eq!(id(index.by_domain("gouv.fr")), None);
        assert_eq!(id(index.by_domain("c.fr")), None);
        assert_eq!(id(index.by_matomo_id(7)), Some("a".into()));
        assert_eq!(id(index.by_matomo_id(8)), None);
    }

    #[test]
    fn a_domain_or_a_matomo_id_belongs_to_one_site() {
        let mut a = SiteRow::new("a", &["www.a.fr", "*.agence.gouv.fr"]);
        a.matomo_id = Some(7);
        let mut broken = SiteRow::new("broken", &["bad host"]);
        broken.matomo_id = Some(9);
        let stored = [a.clone(), broken, SiteRow::new("b", &["b.fr"])];
        let check = |hosts: &[&str], matomo_id: Option<u32>| {
            let mut row = SiteRow::new("new", hosts);
            row.matomo_id = matomo_id;
            unclaimed(&Site::from_row(&row).expect("valid"), &stored)
        };
        let host_taken = |host: &str, site: &str| {
            Err(SiteError::HostTaken {
                host: host.into(),
                site: site.into(),
            })
        };
        assert_eq!(check(&["WWW.A.fr"], None), host_taken("www.a.fr", "a"));
        // `agence.gouv.fr` and `*.agence.gouv.fr` would share an entry.
        assert_eq!(
            check(&["c.fr", "agence.gouv.fr"], None),
            host_taken("agence.gouv.fr", "a")
        );
        assert_eq!(check(&["*.b.fr"], None), host_taken("b.fr", "b"));
        assert_eq!(
            check(&["c.fr"], Some(7)),
            Err(SiteError::MatomoIdTaken {
                id: 7,
                site: "a".into()
            })
        );
        // A parent or a child domain is another entry: the closest wins.
        assert_eq!(
            check(&["gouv.fr", "x.agence.gouv.fr", "a.fr"], Some(8)),
            Ok(())
        );
        // A stored row that no longer validates claims nothing.
        assert_eq!(check(&["c.fr"], Some(9)), Ok(()));
        // A site may keep its own hosts and id.
        assert_eq!(
            unclaimed(&Site::from_row(&a).expect("valid"), &stored),
            Ok(())
        );
    }

    #[test]
    fn a_site_registered_under_one_form_of_its_domain_is_found_by_it() {
        let www = SiteRow::new("www", &["www.mairie.fr"]);
        let bare = SiteRow::new("bare", &["prefecture.fr"]);
        let index = SiteIndex::new(
            [www, bare]
                .iter()
                .map(|r| Site::from_row(r).expect("valid")),
        );
        let id = |s: Option<&Arc<Site>>| s.map(|s| s.id.clone());
        assert_eq!(id(index.by_domain("www.mairie.fr")), Some("www".into()));
        assert_eq!(id(index.by_domain("mairie.fr")), None, "not registered");
        assert_eq!(id(index.by_domain("prefecture.fr")), Some("bare".into()));
        assert_eq!(
            id(index.by_domain("www.prefecture.fr")),
            Some("bare".into())
        );
    }
}
