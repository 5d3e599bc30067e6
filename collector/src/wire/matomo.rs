//! Matomo's tracking HTTP API (`/matomo.php`, `/piwik.php`): one request's
//! parameters, from the query string and the form body, or a bulk request
//! (`{"requests": ["?idsite=1&rec=1&...", ...]}`).
//!
//! Read: `idsite`, `rec`, `url`, `urlref`, `link`, `download`, `e_c`, `e_a`,
//! `e_n`, `e_v`, `res`, `ua` and `lang` (what a server-side tracker forwards
//! of its visitor's request), `ping`. Everything else is accepted and
//! ignored; the identifiers a tracker sends (`_id`, `cid`, `uid`, `cip`,
//! `_idts`, `pv_id`...) are never read, so never stored.

use super::pixel::MAX_QUERY;
use super::{Builder, Hit, MAX_URL, WireError, optional};
use crate::event::Tracker;
use serde_json::Value;

/// Largest bulk body, and most requests in it.
pub const MAX_BULK_BODY: usize = 256 * 1024;
pub const MAX_BULK_REQUESTS: usize = 500;

/// What one tracking request asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Hit(Hit),
    /// Nothing to record: `rec` is not 1, or a heartbeat (`ping`).
    Nothing,
}

/// Parses one request's parameters (`a=1&b=2`, a leading `?` allowed).
pub fn parse_matomo(params: &str) -> Result<Request, WireError> {
    let params = params.strip_prefix('?').unwrap_or(params);
    if params.len() > MAX_QUERY {
        return Err(WireError::TooLong("query"));
    }
    let mut hit = Builder::default();
    let (mut record, mut ping) = (false, false);
    let (mut category, mut action) = (String::new(), String::new());
    let (mut link, mut download) = (None, None);
    for pair in super::pixel::params(params) {
        let (key, value) = pair?;
        match key.as_ref() {
            "idsite" => {
                let id = value
                    .trim()
                    .parse()
                    .map_err(|_| WireError::Value("idsite"))?;
                hit.matomo_site(id);
            }
            "rec" => record = value.as_ref() == "1",
            "ping" => ping = value.as_ref() == "1",
            "url" => hit.url = optional(&value, MAX_URL, "url")?,
            "urlref" => hit.referrer = optional(&value, MAX_URL, "urlref")?,
            "link" => link = optional(&value, MAX_URL, "link")?,
            "download" => download = optional(&value, MAX_URL, "download")?,
            "e_c" => category = bounded_text(&value, "e_c")?,
            "e_a" => action = bounded_text(&value, "e_a")?,
            "e_n" if !value.is_empty() => hit.prop("name", &value)?,
            "e_v" if !value.is_empty() => hit.prop("value", &value)?,
            "res" => {
                let width = value.split(['x', 'X']).next().unwrap_or_default();
                // A malformed resolution is not worth refusing the hit.
                if let Ok(width) = width.trim().parse::<u32>() {
                    hit.screen_width = Some(width.min(100_000));
                }
            }
            "ua" => {
                let mut agent = value.into_owned();
                // Cut where the pipeline cuts the header.
                crate::pipeline::page::truncate(&mut agent, crate::pipeline::agent::MAX_USER_AGENT);
                hit.user_agent = Some(agent);
            }
            "lang" => hit.language |= !value.trim().is_empty(),
            _ => {}
        }
    }
    if !record || ping {
        return Ok(Request::Nothing);
    }
    if !category.is_empty() && !action.is_empty() {
        hit.kind("custom")?;
        hit.name(&format!("{category} / {action}"))?;
    } else if let Some(target) = download {
        hit.kind("download")?;
        hit.target = Some(target);
    } else if let Some(target) = link {
        hit.kind("outlink")?;
        hit.target = Some(target);
    }
    hit.build(Tracker::Matomo).map(Request::Hit)
}

/// The requests of a bulk body, each parsed on its own: one bad request
/// does not spoil the others.
pub fn parse_matomo_bulk(body: &[u8]) -> Result<Vec<Result<Request, WireError>>, WireError> {
    if body.len() > MAX_BULK_BODY {
        return Err(WireError::TooLong("body"));
    }
    let text = std::str::from_utf8(body).map_err(|_| WireError::BodyEncoding)?;
    let value: Value = serde_json::from_str(text).map_err(|e| WireError::Json(e.to_string()))?;
    let Some(Value::Array(requests)) = value.get("requests") else {
        return Err(WireError::Value("requests"));
    };
    if requests.len() > MAX_BULK_REQUESTS {
        return Err(WireError::TooLong("requests"));
    }
    Ok(requests
        .iter()
        .map(|request| match request {
            Value::String(params) => parse_matomo(params),
            _ => Err(WireError::Value("requests")),
        })
        .collect())
}

/// Whether a body is a bulk request rather than form parameters.
pub fn is_bulk(body: &[u8]) -> bool {
    body.trim_ascii_start().first() == Some(&b'{')
}

fn bounded_text(value: &str, key: &'static str) -> Result<String, WireError> {
    if value.chars().count() > super::MAX_NAME / 2 {
        return Err(WireError::TooLong(key));
    }
    Ok(value.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Kind;
    use crate::wire::SiteKey;

    fn hit(params: &str) -> Hit {
        match parse_matomo(params) {
            Ok(Request::Hit(hit)) => hit,
            other => panic!("{params}: {other:?}"),
        }
    }

    #[test]
    fn a_pageview_as_matomo_js_sends_it() {
        let h = hit(
            "action_name=Accueil&idsite=3&rec=1&r=123456&h=10&m=2&s=3&url=https%3A%2F%2Fexample.fr%2Fa%3Fb%3D1\
             &urlref=https%3A%2F%2Fwww.google.fr%2F&_id=0123456789abcdef&_idts=1700000000&_idn=0\
             &send_image=0&cookie=0&res=1920x1080&uid=jean%40example.fr&cid=0123456789abcdef\
             &cip=203.0.113.9&pv_id=Ab12Cd&uadata=%7B%7D",
        );
        assert_eq!(h.site, SiteKey::Matomo(3));
        assert_eq!(h.kind, Kind::Pageview);
        assert_eq!(h.url.as_deref(), Some("https://example.fr/a?b=1"));
        assert_eq!(h.referrer.as_deref(), Some("https://www.google.fr/"));
        assert_eq!(h.screen_width, Some(1920));
        assert_eq!(h.tracker, Tracker::Matomo);
        // Identifiers leave no trace in the hit.
        let text = format!("{h:?}");
        for secret in ["0123456789abcdef", "jean", "203.0.113.9", "Ab12Cd"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    #[test]
    fn events_links_and_downloads() {
        let e = hit("idsite=1&rec=1&url=https://a.fr/&e_c=Video&e_a=Play&e_n=Intro&e_v=3");
        assert_eq!((e.kind, e.name.as_str()), (Kind::Custom, "Video / Play"));
        assert_eq!(
            e.props,
            [
                ("name".into(), "Intro".into()),
                ("value".into(), "3".into())
            ]
        );
        let o = hit("idsite=1&rec=1&url=https://a.fr/&link=https%3A%2F%2Fb.fr%2Fx");
        assert_eq!(
            (o.kind, o.target.as_deref()),
            (Kind::Outlink, Some("https://b.fr/x"))
        );
        let d = hit("idsite=1&rec=1&url=https://a.fr/&download=https%3A%2F%2Fa.fr%2Ff.pdf");
        assert_eq!(
            (d.kind, d.target.as_deref()),
            (Kind::Download, Some("https://a.fr/f.pdf"))
        );
        let server = hit("?idsite=1&rec=1&url=https://a.fr/&ua=Mozilla%2F5.0+X&lang=fr-FR");
        assert_eq!(server.user_agent.as_deref(), Some("Mozilla/5.0 X"));
        assert!(server.language);
    }

    #[test]
    fn nothing_to_record_and_bad_requests() {
        assert_eq!(
            parse_matomo("idsite=1&url=https://a.fr/"),
            Ok(Request::Nothing)
        );
        assert_eq!(parse_matomo("idsite=1&rec=1&ping=1"), Ok(Request::Nothing));
        assert_eq!(
            parse_matomo("rec=1&url=https://a.fr/"),
            Err(WireError::MissingSite)
        );
        assert_eq!(
            parse_matomo("idsite=x&rec=1"),
            Err(WireError::Value("idsite"))
        );
        assert_eq!(
            parse_matomo(&format!("idsite=1&rec=1&url={}", "x".repeat(MAX_URL + 1))),
            Err(WireError::TooLong("url"))
        );
        assert_eq!(
            parse_matomo("idsite=1&rec=1&url=%FF"),
            Err(WireError::Encoding("url".into()))
        );
    }

    #[test]
    fn bulk() {
        let body = br#"{"requests": ["?idsite=1&rec=1&url=https%3A%2F%2Fa.fr%2F", "?idsite=x&rec=1", 7], "token_auth": "t"}"#;
        assert!(is_bulk(body));
        let parsed = parse_matomo_bulk(body).expect("bulk");
        assert!(matches!(parsed[0], Ok(Request::Hit(_))));
        assert_eq!(parsed[1], Err(WireError::Value("idsite")));
        assert_eq!(parsed[2], Err(WireError::Value("requests")));
        assert!(matches!(
            parse_matomo_bulk(b"{}"),
            Err(WireError::Value("requests"))
        ));
        assert!(matches!(parse_matomo_bulk(b"{"), Err(WireError::Json(_))));
        let many = format!(
            r#"{{"requests": [{}]}}"#,
            vec![r#""?rec=1""#; MAX_BULK_REQUESTS + 1].join(",")
        );
        assert_eq!(
            parse_matomo_bulk(many.as_bytes()),
            Err(WireError::TooLong("requests"))
        );
    }
}
