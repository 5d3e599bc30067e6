//! The pixel: `GET /p.gif?s=site&u=...`, a query string.

use super::{Builder, Hit, MAX_URL, WireError, optional};
use crate::event::Tracker;
use percent_encoding::percent_decode;
use std::borrow::Cow;

/// Longest query string read; the rest of a longer one is an error.
pub const MAX_QUERY: usize = 8 * 1024;

/// Decodes one `application/x-www-form-urlencoded` component; `None` when
/// the bytes it encodes are not UTF-8.
fn decode(raw: &str) -> Option<Cow<'_, str>> {
    if !raw.bytes().any(|b| b == b'%' || b == b'+') {
        return Some(Cow::Borrowed(raw));
    }
    // One pass, one allocation: `+` is a space, `%XX` a byte.
    let mut bytes = Vec::with_capacity(raw.len());
    for (i, chunk) in raw.split('+').enumerate() {
        if i > 0 {
            bytes.push(b' ');
        }
        bytes.extend(percent_decode(chunk.as_bytes()));
    }
    String::from_utf8(bytes).ok().map(Cow::Owned)
}

/// The decoded `key=value` pairs of a query string or form body, bounded by
/// the caller; a pair that does not decode to UTF-8 is an error naming it.
pub(super) fn params(
    query: &str,
) -> impl Iterator<Item = Result<(Cow<'_, str>, Cow<'_, str>), WireError>> {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(raw_key)
            .ok_or_else(|| WireError::Encoding(raw_key.chars().take(16).collect()))?;
        let value =
            decode(raw_value).ok_or_else(|| WireError::Encoding(key.chars().take(16).collect()))?;
        Ok((key, value))
    })
}

pub fn parse_pixel(query: &str) -> Result<Hit, WireError> {
    if query.len() > MAX_QUERY {
        return Err(WireError::TooLong("query"));
    }
    let mut hit = Builder::default();
    let mut domain = None;
    for pair in params(query) {
        let (key, value) = pair?;
        match key.as_ref() {
            "s" => hit.site_id(&value)?,
            "d" => domain = Some(value),
            "u" => hit.url = optional(&value, MAX_URL, "u")?,
            "r" => hit.referrer = optional(&value, MAX_URL, "r")?,
            "t" => hit.target = optional(&value, MAX_URL, "t")?,
            "k" => hit.kind(&value)?,
            "n" => hit.name(&value)?,
            "w" => hit.screen_width(&value)?,
            "o" => hit.opt_out(&value),
            "h" => hit.hash_routing = value == "1",
            "p" => {
                for (k, v) in super::beacon::props_from_json_text(&value)? {
                    hit.prop(&k, &v)?;
                }
            }
            _ => {} // unknown parameters (cache busters...) are ignored
        }
    }
    if let Some(domain) = domain {
        hit.domain(&domain)?;
    }
    hit.build(Tracker::Pixel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Kind;
    use crate::wire::SiteKey;
    use proptest::prelude::*;

    proptest! {
        /// One pass decodes as spaces first, then escapes, would.
        #[test]
        fn decoding_matches_the_two_step_reading(raw in "[a-z%+2-9A-F\\x{e9}]{0,24}") {
            let spaced = raw.replace('+', " ");
            let reference = String::from_utf8(percent_decode(spaced.as_bytes()).collect()).ok();
            prop_assert_eq!(decode(&raw).map(Cow::into_owned), reference);
        }
    }

    #[test]
    fn a_full_pageview() {
        let hit = parse_pixel(
            "s=prefecture&u=https%3A%2F%2Fexample.fr%2Fa%3Fb%3D1&r=https://www.google.fr/&w=1280&cb=123",
        )
        .expect("valid");
        assert_eq!(hit.site, SiteKey::Id("prefecture".into()));
        assert_eq!(hit.url.as_deref(), Some("https://example.fr/a?b=1"));
        assert_eq!(hit.referrer.as_deref(), Some("https://www.google.fr/"));
        assert_eq!(hit.kind, Kind::Pageview);
        assert_eq!(hit.screen_width, Some(1280));
        assert_eq!(hit.tracker, Tracker::Pixel);
    }

    #[test]
    fn data_driven() {
        let check = |query: &str, expected: Result<(Kind, &str), WireError>| {
            let got = parse_pixel(query).map(|h| (h.kind, h.name));
            let expected = expected.map(|(k, n)| (k, n.to_owned()));
            assert_eq!(got, expected, "{query}");
        };
        check("s=a", Ok((Kind::Pageview, "")));
        check(
            "s=a&n=Newsletter+signup",
            Ok((Kind::Custom, "Newsletter signup")),
        );
        check("s=a&k=custom&n=%C3%A9t%C3%A9", Ok((Kind::Custom, "été")));
        check("s=a&k=custom", Err(WireError::MissingName));
        check("s=a&k=outlink&t=https://x.fr", Ok((Kind::Outlink, "")));
        check("s=a&n=File+Download", Ok((Kind::Download, "")));
        check("d=Example.FR", Ok((Kind::Pageview, "")));
        check("", Err(WireError::MissingSite));
        check("u=https://x.fr", Err(WireError::MissingSite));
        check("s=a&k=nope", Err(WireError::Value("k")));
        check("s=a&w=wide", Err(WireError::Value("w")));
        check("s=a&w=-1", Err(WireError::Value("w")));
        check("s=a&u=%FF%FE", Err(WireError::Encoding("u".into())));
        check("s=a&%FF=1", Err(WireError::Encoding("%FF".into())));
        check("s=a&u=%E", Ok((Kind::Pageview, ""))); // a lone % is kept literally, as browsers do
        check(
            &format!("s=a&u={}", "x".repeat(MAX_URL + 1)),
            Err(WireError::TooLong("u")),
        );
        check(
            &format!("s={}", "x".repeat(300)),
            Err(WireError::TooLong("s")),
        );
        check(
            &format!("s=a&n={}", "é".repeat(121)),
            Err(WireError::TooLong("n")),
        );
        check("s=a&n=a%0Ab", Err(WireError::Value("n")));
        check(
            &format!("s=a&x={}", "y".repeat(MAX_QUERY)),
            Err(WireError::TooLong("query")),
        );
    }

    #[test]
    fn site_id_wins_over_domain_and_domain_lists_name_the_first() {
        assert_eq!(
            parse_pixel("d=b.fr&s=a").map(|h| h.site),
            Ok(SiteKey::Id("a".into()))
        );
        assert_eq!(
            parse_pixel("d=a.fr,b.fr").map(|h| h.site),
            Ok(SiteKey::Domain("a.fr".into()))
        );
    }

    #[test]
    fn props_and_opt_out() {
        let hit =
            parse_pixel("s=a&n=e&p=%7B%22plan%22%3A%22pro%22%2C%22n%22%3A3%7D&o=1").expect("valid");
        assert_eq!(
            hit.props,
            [("n".into(), "3".into()), ("plan".into(), "pro".into())]
        );
        assert!(hit.opt_out);
        assert!(matches!(
            parse_pixel("s=a&p=notjson"),
            Err(WireError::Json(_))
        ));
    }
}
