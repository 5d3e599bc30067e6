//! Page URLs as stored: the site's host and the path, with only the site's
//! allow-listed query parameters, no fragment (unless the page routes by
//! it: then its path part, redacted like a path), and values that look like
//! e-mail addresses or tokens redacted. Campaign parameters are read here.

use crate::event::DropReason;
use crate::row::Text;
use crate::sites::{Mode, Site};
use url::Url;

/// Longest stored path (with its kept query), in bytes.
pub const MAX_PATH: usize = 1024;
pub const EMAIL: &str = "[email]";
pub const TOKEN: &str = "[token]";

/// Campaign parameters of the page URL (consent mode only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Campaign {
    pub source: Text,
    pub medium: Text,
    pub campaign: Text,
    pub content: Text,
    pub term: Text,
}

impl Campaign {
    pub fn is_empty(&self) -> bool {
        self.source.is_empty() && self.medium.is_empty() && self.campaign.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub hostname: String,
    pub path: String,
    pub campaign: Campaign,
}

/// Parses an absolute http(s) URL; `None` for anything else.
pub fn parse_web_url(text: &str) -> Option<Url> {
    let url = Url::parse(text).ok()?;
    (matches!(url.scheme(), "http" | "https") && url.host_str().is_some()).then_some(url)
}

/// The lowercase host of an absolute http(s) URL, without port or user;
/// `None` for anything else. Plain ASCII hosts take a fast path; anything
/// unusual (IDN, escapes) goes through the full URL parser.
pub fn web_host(text: &str) -> Option<String> {
    let lower_prefix = |p: &str| {
        text.get(..p.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(p))
    };
    let rest = if lower_prefix("https://") {
        &text[8..]
    } else if lower_prefix("http://") {
        &text[7..]
    } else {
        return None;
    };
    let authority = rest.split(['/', '?', '#', '\\']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port.split_inclusive(']').next().unwrap_or_default()
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => host_port,
        }
    };
    let plain = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if plain {
        return Some(host.trim_end_matches('.').to_ascii_lowercase());
    }
    parse_web_url(text).and_then(|u| u.host_str().map(str::to_owned))
}

/// A URL's host, path and query, as the `url` crate gives them.
#[derive(Debug, PartialEq, Eq)]
struct Parts<'a> {
    host: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

impl<'a> Parts<'a> {
    fn of(url: &'a Url) -> Parts<'a> {
        Parts {
            host: url.host_str().unwrap_or_default(),
            path: url.path(),
            query: url.query(),
            fragment: url.fragment(),
        }
    }

    /// The parts of a plain URL (lowercase scheme and host, no port, no
    /// escapes, no dot segments, no character the parser would encode or
    /// drop), read directly: the parser would return them unchanged, and it
    /// is the pipeline's costliest step. Anything else gives `None`.
    fn plain(text: &'a str) -> Option<Parts<'a>> {
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))?;
        let (rest, fragment) = match rest.split_once('#') {
            Some((before, fragment)) => (before, Some(fragment)),
            None => (rest, None),
        };
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        let (host, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
        let last_label = host.rsplit('.').next().unwrap_or_default();
        let plain_host = host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && last_label.starts_with(|c: char| c.is_ascii_lowercase())
            && !host.starts_with('.')
            && !host.contains("..")
            && !host.contains("xn--");
        let (path, query) = match tail.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (tail, None),
        };
        let safe = |b: u8, extra: &[u8]| {
            b.is_ascii_alphanumeric() || b"-._~!$&()*+,;=:@/".contains(&b) || extra.contains(&b)
        };
        let plain_path = path.bytes().all(|b| safe(b, b""))
            && !path
                .split('/')
                .any(|segment| segment == "." || segment == "..");
        let plain_query = query.is_none_or(|q| q.bytes().all(|b| safe(b, b"?%")));
        let plain_fragment = fragment.is_none_or(|f| f.bytes().all(|b| safe(b, b"?%")));
        (plain_host && plain_path && plain_query && plain_fragment).then_some(Parts {
            host,
            path: if path.is_empty() { "/" } else { path },
            query,
            fragment,
        })
    }
}

/// Calls `f` with the parts of an absolute http(s) URL; `None` for anything else.
fn with_parts<T>(text: &str, f: impl FnOnce(Parts<'_>) -> T) -> Option<T> {
    match Parts::plain(text) {
        Some(parts) => Some(f(parts)),
        None => parse_web_url(text).map(|url| f(Parts::of(&url))),
    }
}

/// The page as stored, or why the hit is dropped.
pub fn sanitise(url: &str, site: &Site, hash_routing: bool) -> Result<Page, DropReason> {
    with_parts(url, |parts| page(&parts, site, hash_routing)).ok_or(DropReason::Invalid)?
}

fn page(parts: &Parts<'_>, site: &Site, hash_routing: bool) -> Result<Page, DropReason> {
    let hostname = parts.host.to_owned();
    if !site.has_host(&hostname) {
        return Err(DropReason::WrongOrigin);
    }
    let mut path = redact_path(parts.path);
    let mut campaign = Campaign::default();
    let mut first = true;
    let query = parts.query.unwrap_or_default().as_bytes();
    for (key, value) in form_urlencoded::parse(query) {
        if site.mode == Mode::Consent {
            read_campaign(&key, &value, &mut campaign);
        }
        if site.keeps_param(&key) {
            path.push(if first { '?' } else { '&' });
            first = false;
            path.push_str(&key);
            path.push('=');
            path.push_str(&redact_value(&value));
        }
    }
    // A single-page app's route: the fragment's path, never its query.
    if hash_routing && let Some(route) = parts.fragment {
        let route = route.split('?').next().unwrap_or_default();
        if !route.is_empty() {
            path.push('#');
            path.push_str(&redact_path(route));
        }
    }
    truncate(&mut path, MAX_PATH);
    Ok(Page {
        hostname,
        path,
        campaign,
    })
}

/// An outbound link or download target, stored as host and path only.
pub fn target(url: &str) -> Option<String> {
    with_parts(url, |parts| {
        let mut out = parts.host.to_owned();
        out.push_str(&redact_path(parts.path));
        truncate(&mut out, MAX_PATH);
        out
    })
}

fn read_campaign(key: &str, value: &str, campaign: &mut Campaign) {
    let field = match key {
        "utm_source" | "mtm_source" | "pk_source" => &mut campaign.source,
        "utm_medium" | "mtm_medium" | "pk_medium" => &mut campaign.medium,
        "utm_campaign" | "mtm_campaign" | "pk_campaign" | "mtm_cmp" => &mut campaign.campaign,
        "utm_content" | "mtm_content" | "pk_content" => &mut campaign.content,
        "utm_term" | "mtm_keyword" | "pk_keyword" | "mtm_kwd" | "pk_kwd" => &mut campaign.term,
        _ => return,
    };
    if field.is_empty() {
        let mut value = redact_value(value).into_owned();
        truncate(&mut value, 128);
        *field = value.into();
    }
}

/// Decodes the path for readability (when it decodes to clean UTF-8) and
/// redacts its segments.
fn redact_path(encoded: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(encoded)
        .decode_utf8()
        .ok()
        .filter(|s| !s.chars().any(char::is_control));
    let path = decoded.as_deref().unwrap_or(encoded);
    let mut out = String::with_capacity(path.len());
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(redact_value(segment).as_ref());
    }
    out
}

/// A path segment or parameter value, or its redaction mark.
pub fn redact_value(value: &str) -> std::borrow::Cow<'_, str> {
    if looks_like_email(value) {
        EMAIL.into()
    } else if looks_like_token(value) {
        TOKEN.into()
    } else {
        value.into()
    }
}

fn looks_like_email(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
}

/// UUIDs, and any word (between `-_.~+=`) of 16 or more characters that mixes
/// digits and letters or is all digits: session ids, hashes, keys, JWTs,
/// card numbers. Slugs of ordinary words are kept.
fn looks_like_token(value: &str) -> bool {
    if is_uuid(value) {
        return true;
    }
    value
        .split(['-', '_', '.', '~', '+', '=', ' ', ','])
        .any(|word| {
            if word.len() < 16 {
                return false;
            }
            let digits = word.bytes().filter(u8::is_ascii_digit).count();
            let letters = word.bytes().filter(u8::is_ascii_alphabetic).count();
            digits + letters == word.len()
                && (digits == word.len() || (digits >= 2 && letters >= 2))
        })
}

fn is_uuid(value: &str) -> bool {
    value.len() == 36
        && value.split('-').count() == 5
        && value
            .split('-')
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Cuts at a character boundary.
pub fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sites::SiteRow;

    fn site(mode: Mode, params: &[&str]) -> Site {
        let mut row = SiteRow::new("s", &["example.fr", "*.gouv.fr"]);
        row.mode = mode;
        row.allowed_params = params.iter().map(|p| (*p).to_owned()).collect();
        Site::from_row(&row).expect("valid site")
    }

    /// The shortcut for plain URLs gives what the parser gives, and leaves
    /// anything unusual to the parser.
    #[test]
    fn plain_urls_read_directly_match_the_parser() {
        let plain = [
            "https://example.fr",
            "https://example.fr/",
            "http://www.example.fr/a/b-c_d.html",
            "https://example.fr/a/?",
            "https://example.fr?x=1",
            "https://example.fr/a?page=2&q=a+b&z=%C3%A9&utm_source=x#frag",
            "https://example.fr/a;b=c/(d)*!$,@:~",
            "https://example.fr//double//slashes",
            "https://example.fr/...hidden/..a",
            "https://sub-1.example.fr/x?%",
        ];
        for text in plain {
            let url = parse_web_url(text).expect("valid");
            assert_eq!(Parts::plain(text), Some(Parts::of(&url)), "{text}");
        }
        let unusual = [
            "HTTPS://example.fr/",
            "https://Example.fr/",
            "https://example.fr:8443/",
            "https://user@example.fr/",
            "https://example.fr./",
            "https://192.168.0.1/",
            "https://0x7f.1/",
            "https://xn--caf-dma.fr/",
            "https://example.fr/a/../b",
            "https://example.fr/a/./b",
            "https://example.fr/a%2e%2e/b",
            "https://example.fr/a b",
            "https://example.fr/a\tb",
            "https://example.fr/a\\b",
            "https://example.fr/caf\u{e9}",
            "https://example.fr/?q='x'",
            "https://example.fr/{x}",
            "ftp://example.fr/",
            "https:///nohost",
        ];
        for text in unusual {
            assert_eq!(Parts::plain(text), None, "{text}");
        }
    }

    #[test]
    fn data_driven() {
        let exempt = site(Mode::Exempt, &["page", "q"]);
        let check = |url: &str, expected: Result<(&str, &str), DropReason>| {
            let got = sanitise(url, &exempt, false).map(|p| (p.hostname, p.path));
            let expected = expected.map(|(h, p)| (h.to_owned(), p.to_owned()));
            assert_eq!(got, expected, "{url}");
        };
        check("https://example.fr/", Ok(("example.fr", "/")));
        check(
            "https://EXAMPLE.fr:8443/a/b#frag",
            Ok(("example.fr", "/a/b")),
        );
        check(
            "https://example.fr/a?secret=1&page=2&token=x",
            Ok(("example.fr", "/a?page=2")),
        );
        check(
            "https://example.fr/a?page=2&q=jean.dupont@mail.fr",
            Ok(("example.fr", "/a?page=2&q=[email]")),
        );
        check(
            "https://www.interieur.gouv.fr/actualit%C3%A9s",
            Ok(("www.interieur.gouv.fr", "/actualités")),
        );
        check("https://example.fr/%FF%FE", Ok(("example.fr", "/%FF%FE")));
        check(
            "https://example.fr/u/jean.dupont@mail.fr/profil",
            Ok(("example.fr", "/u/[email]/profil")),
        );
        check(
            "https://example.fr/dossier/123e4567-e89b-12d3-a456-426614174000",
            Ok(("example.fr", "/dossier/[token]")),
        );
        check(
            "https://example.fr/reset/9f86d081884c7d659a2feaa0c55ad015",
            Ok(("example.fr", "/reset/[token]")),
        );
        check(
            "https://example.fr/pay/4970101234567890",
            Ok(("example.fr", "/pay/[token]")),
        );
        check(
            "https://example.fr/actualites-2024-decembre/reforme-des-retraites-12",
            Ok((
                "example.fr",
                "/actualites-2024-decembre/reforme-des-retraites-12",
            )),
        );
        check(
            "https://example.fr/article/123456",
            Ok(("example.fr", "/article/123456")),
        );
        check("https://evil.com/", Err(DropReason::WrongOrigin));
        check("https://example.fr.evil.com/", Err(DropReason::WrongOrigin));
        check("ftp://example.fr/", Err(DropReason::Invalid));
        check("javascript:alert(1)", Err(DropReason::Invalid));
        check("/relative", Err(DropReason::Invalid));
        check("not a url", Err(DropReason::Invalid));
        let long = format!("https://example.fr/{}", "é".repeat(700));
        let page = sanitise(&long, &exempt, false).expect("valid");
        assert!(page.path.len() <= MAX_PATH && page.path.starts_with("/é"));
    }

    #[test]
    fn campaigns_only_in_consent_mode() {
        let url = "https://example.fr/?utm_source=newsletter&utm_medium=email&utm_campaign=noel&mtm_kwd=x";
        assert_eq!(
            sanitise(url, &site(Mode::Exempt, &[]), false).map(|p| p.campaign),
            Ok(Campaign::default())
        );
        let page = sanitise(url, &site(Mode::Consent, &[]), false).expect("valid");
        assert_eq!(page.path, "/");
        assert_eq!(
            page.campaign,
            Campaign {
                source: "newsletter".into(),
                medium: "email".into(),
                campaign: "noel".into(),
                content: Text::default(),
                term: "x".into(),
            }
        );
    }

    #[test]
    fn web_hosts() {
        for (url, host) in [
            ("https://www.Google.fr/search?q=x", Some("www.google.fr")),
            ("HTTP://user:pw@Example.fr:8080/a", Some("example.fr")),
            ("https://example.fr.", Some("example.fr")),
            ("https://example.fr?x#y", Some("example.fr")),
            ("https://example.fr\\evil.com", Some("example.fr")),
            ("https://[2001:db8::1]:8443/", Some("[2001:db8::1]")),
            ("https://préfecture.fr/", Some("xn--prfecture-c4a.fr")),
            ("ftp://example.fr/", None),
            ("https:///nohost", Some("nohost")), // as browsers read it
            ("https://", None),
            ("not a url", None),
        ] {
            assert_eq!(web_host(url).as_deref(), host, "{url}");
        }
    }

    #[test]
    fn targets_keep_host_and_path_only() {
        assert_eq!(
            target("https://ext.fr/doc.pdf?sig=abc#p2").as_deref(),
            Some("ext.fr/doc.pdf")
        );
        assert_eq!(target("mailto:a@b.fr"), None);
    }
}
