//! Wire formats: what each tracking interface sends, parsed into one [`Hit`].
//!
//! Parsing is strict (invalid UTF-8, wrong types and oversized values are
//! errors, never replaced) and bounded: every string has a length limit.
//!
//! Hit parameters, the same in the pixel's query string and the beacon's JSON:
//!
//! | key | meaning |
//! | --- | --- |
//! | `s` | site id (or `d`, a domain of the site, as Plausible sends) |
//! | `u` | page URL; the pixel falls back to the `Referer` header |
//! | `r` | referrer of the page (`document.referrer`) |
//! | `k` | `pageview` (default), `custom`, `outlink` or `download` |
//! | `n` | custom event name; Plausible's `pageview`, `Outbound Link: Click` and `File Download` map to kinds |
//! | `t` | target URL of an outbound link or a download |
//! | `w` | screen width in CSS pixels (`window.innerWidth`) |
//! | `p` | event properties, a JSON object of strings (consent mode only); `m` as Plausible sends |
//! | `o` | `1` when the visitor opted out: the hit is acknowledged and dropped |
//! | `h` | `1` when the page routes by its URL's fragment (Plausible's hash mode): the fragment is kept |
//!
//! Beacons carrying Mesure's own `s` or `w` come from Mesure's script; others
//! from Plausible's clients. Matomo's tracking API is read by [`matomo`].

mod beacon;
pub mod matomo;
mod pixel;

pub use beacon::{MAX_BODY as MAX_BEACON_BODY, parse_beacon};
pub use matomo::{parse_matomo, parse_matomo_bulk};
pub use pixel::parse_pixel;

use crate::event::{Kind, Tracker};

/// Longest page, referrer or target URL accepted, in bytes.
pub const MAX_URL: usize = 2048;
/// Longest event name, in characters.
pub const MAX_NAME: usize = 120;
/// Most properties on one event, and their longest key and value.
pub const MAX_PROPS: usize = 30;
pub const MAX_PROP_KEY: usize = 64;
pub const MAX_PROP_VALUE: usize = 256;
/// Longest site id or domain.
pub const MAX_SITE: usize = 253;

/// How a hit names its site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteKey {
    Id(String),
    Domain(String),
    Matomo(u32),
}

/// One hit, as sent: untrusted, but well-formed and bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub site: SiteKey,
    pub url: Option<String>,
    pub referrer: Option<String>,
    pub kind: Kind,
    /// Custom event name; empty for other kinds.
    pub name: String,
    pub target: Option<String>,
    pub screen_width: Option<u32>,
    pub props: Vec<(String, String)>,
    pub opt_out: bool,
    /// The page routes by its URL's fragment (Plausible's `h`): keep it.
    pub hash_routing: bool,
    /// The visitor's user agent and language as a server-side tracker
    /// forwards them (Matomo's `ua`, `lang`); else the request's headers.
    pub user_agent: Option<String>,
    pub language: bool,
    pub tracker: Tracker,
}

/// Why a request is not a hit. Shown to clients of the JSON API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("missing site: send `s` (site id) or `d` (domain)")]
    MissingSite,
    #[error("parameter `{0}` is not valid UTF-8 or not properly percent-encoded")]
    Encoding(String),
    #[error("parameter `{0}` is too long")]
    TooLong(&'static str),
    #[error("parameter `{0}` has an invalid value")]
    Value(&'static str),
    #[error("`n` (event name) is required for custom events")]
    MissingName,
    #[error("too many properties: at most {MAX_PROPS}")]
    TooManyProps,
    #[error("body is not a JSON object: {0}")]
    Json(String),
    #[error("body is not valid UTF-8")]
    BodyEncoding,
    /// Plausible's `engagement` event: well-formed, but not a hit.
    #[error("an engagement report, not a hit")]
    Engagement,
}

impl WireError {
    /// How the hit ends: engagement reports are acknowledged, the rest refused.
    pub fn drop_reason(&self) -> crate::event::DropReason {
        match self {
            WireError::Engagement => crate::event::DropReason::Engagement,
            _ => crate::event::DropReason::Invalid,
        }
    }
}

/// Collects fields into a [`Hit`], checking limits as they come.
#[derive(Debug, Default)]
struct Builder {
    site: Option<SiteKey>,
    url: Option<String>,
    referrer: Option<String>,
    kind: Option<Kind>,
    name: Option<String>,
    target: Option<String>,
    screen_width: Option<u32>,
    props: Vec<(String, String)>,
    opt_out: bool,
    hash_routing: bool,
    user_agent: Option<String>,
    language: bool,
}

fn bounded(value: &str, max: usize, key: &'static str) -> Result<String, WireError> {
    if value.len() > max {
        return Err(WireError::TooLong(key));
    }
    Ok(value.to_owned())
}

/// Empty strings mean "not given".
fn optional(value: &str, max: usize, key: &'static str) -> Result<Option<String>, WireError> {
    if value.is_empty() {
        Ok(None)
    } else {
        bounded(value, max, key).map(Some)
    }
}

impl Builder {
    fn site_id(&mut self, value: &str) -> Result<(), WireError> {
        if !value.is_empty() {
            self.site = Some(SiteKey::Id(bounded(value, MAX_SITE, "s")?));
        }
        Ok(())
    }

    fn domain(&mut self, value: &str) -> Result<(), WireError> {
        // An explicit site id wins over a domain.
        if !value.is_empty() && !matches!(self.site, Some(SiteKey::Id(_))) {
            let domain = bounded(value, MAX_SITE, "d")?.to_ascii_lowercase();
            // Plausible allows several comma-separated domains; the first one names the site.
            let first = domain
                .split(',')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned();
            self.site = Some(SiteKey::Domain(first));
        }
        Ok(())
    }

    fn matomo_site(&mut self, id: u32) {
        self.site = Some(SiteKey::Matomo(id));
    }

    fn kind(&mut self, value: &str) -> Result<(), WireError> {
        if !value.is_empty() {
            self.kind = Some(Kind::from_name(value).ok_or(WireError::Value("k"))?);
        }
        Ok(())
    }

    fn name(&mut self, value: &str) -> Result<(), WireError> {
        if value.chars().count() > MAX_NAME {
            return Err(WireError::TooLong("n"));
        }
        if value.chars().any(char::is_control) {
            return Err(WireError::Value("n"));
        }
        self.name = (!value.is_empty()).then(|| value.to_owned());
        Ok(())
    }

    fn screen_width(&mut self, value: &str) -> Result<(), WireError> {
        if !value.is_empty() {
            let width: u32 = value.parse().map_err(|_| WireError::Value("w"))?;
            self.screen_width = Some(width.min(100_000));
        }
        Ok(())
    }

    fn opt_out(&mut self, value: &str) {
        self.opt_out = matches!(value, "1" | "true");
    }

    fn prop(&mut self, key: &str, value: &str) -> Result<(), WireError> {
        if self.props.len() == MAX_PROPS {
            return Err(WireError::TooManyProps);
        }
        if key.is_empty() || key.chars().count() > MAX_PROP_KEY || key.chars().any(char::is_control)
        {
            return Err(WireError::Value("p"));
        }
        if value.chars().count() > MAX_PROP_VALUE {
            return Err(WireError::TooLong("p"));
        }
        self.props.push((key.to_owned(), value.to_owned()));
        Ok(())
    }

    fn build(self, tracker: Tracker) -> Result<Hit, WireError> {
        let site = self.site.ok_or(WireError::MissingSite)?;
        let mut target = self.target;
        let mut props = self.props;
        // Plausible's reserved names become kinds; its link target is `props.url`.
        let (kind, name) = match (self.kind, self.name) {
            (Some(Kind::Custom), None) => return Err(WireError::MissingName),
            (Some(Kind::Custom), Some(name)) => (Kind::Custom, name),
            (Some(kind), _) => (kind, String::new()),
            (None, None) => (Kind::Pageview, String::new()),
            (None, Some(name)) => match name.as_str() {
                "pageview" => (Kind::Pageview, String::new()),
                "engagement" if tracker == Tracker::Plausible => {
                    return Err(WireError::Engagement);
                }
                "Outbound Link: Click" => (Kind::Outlink, String::new()),
                "File Download" => (Kind::Download, String::new()),
                _ => (Kind::Custom, name),
            },
        };
        if matches!(kind, Kind::Outlink | Kind::Download)
            && target.is_none()
            && let Some(i) = props.iter().position(|(k, _)| k == "url")
        {
            target = Some(props.remove(i).1);
        }
        Ok(Hit {
            site,
            url: self.url,
            referrer: self.referrer,
            kind,
            name,
            target,
            screen_width: self.screen_width,
            props,
            opt_out: self.opt_out,
            hash_routing: self.hash_routing,
            user_agent: self.user_agent,
            language: self.language,
            tracker,
        })
    }
}
