//! The request headers the steps read, gathered in one pass over the map:
//! a lookup per name (a dozen of them, most absent) cost more than scanning
//! the handful of headers a browser sends.

use http::header::{ACCEPT_LANGUAGE, DNT, ORIGIN, REFERER, USER_AGENT};
use http::{HeaderMap, HeaderName};

const X_DO_NOT_TRACK: HeaderName = HeaderName::from_static("x-do-not-track");
const SEC_GPC: HeaderName = HeaderName::from_static("sec-gpc");
const SEC_PURPOSE: HeaderName = HeaderName::from_static("sec-purpose");
const PURPOSE: HeaderName = HeaderName::from_static("purpose");
const X_MOZ: HeaderName = HeaderName::from_static("x-moz");

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Headers<'a> {
    pub user_agent: &'a str,
    pub origin: &'a str,
    pub referer: &'a str,
    pub accept_language: bool,
    /// `DNT: 1` or `X-Do-Not-Track: 1`.
    pub do_not_track: bool,
    /// `Sec-GPC: 1`.
    pub global_privacy_control: bool,
    /// `Sec-Purpose`, `Purpose` or `X-Moz` naming a prefetch.
    pub prefetch: bool,
}

impl<'a> Headers<'a> {
    /// The first value of each header counts; values that are not visible
    /// ASCII read as empty.
    pub fn scan(map: &'a HeaderMap) -> Headers<'a> {
        let mut seen = Headers::default();
        let first = |slot: &mut &'a str, value: &'a http::HeaderValue| {
            if slot.is_empty() {
                *slot = value.to_str().unwrap_or_default();
            }
        };
        let on = |value: &http::HeaderValue| value.as_bytes().trim_ascii() == b"1";
        // Comparing names, not their text: a standard name is an enum.
        for (name, value) in map {
            if name == USER_AGENT {
                first(&mut seen.user_agent, value);
            } else if name == REFERER {
                first(&mut seen.referer, value);
            } else if name == ORIGIN {
                first(&mut seen.origin, value);
            } else if name == ACCEPT_LANGUAGE {
                seen.accept_language = true;
            } else if name == DNT || name == X_DO_NOT_TRACK {
                seen.do_not_track |= on(value);
            } else if name == SEC_GPC {
                seen.global_privacy_control |= on(value);
            } else if name == SEC_PURPOSE || name == PURPOSE || name == X_MOZ {
                seen.prefetch |= value
                    .as_bytes()
                    .windows(8)
                    .any(|w| w.eq_ignore_ascii_case(b"prefetch"));
            }
        }
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(headers: &[(&str, &[u8])]) -> Headers<'static> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                http::HeaderValue::from_bytes(value).expect("value"),
            );
        }
        let map: &'static HeaderMap = Box::leak(Box::new(map));
        Headers::scan(map)
    }

    #[test]
    fn reads_each_header_the_steps_use() {
        let got = scan(&[
            ("User-Agent", b"UA/1"),
            ("user-agent", b"second"),
            ("Origin", b"https://a.fr"),
            ("Referer", b"https://a.fr/p"),
            ("Accept-Language", b"fr"),
        ]);
        assert_eq!(
            got,
            Headers {
                user_agent: "UA/1",
                origin: "https://a.fr",
                referer: "https://a.fr/p",
                accept_language: true,
                ..Headers::default()
            }
        );
        assert_eq!(scan(&[("user-agent", b"caf\xc3\xa9")]).user_agent, "");
    }

    #[test]
    fn signals() {
        // (do not track, global privacy control, prefetch)
        type Signals = (bool, bool, bool);
        let cases: &[(&str, &[u8], Signals)] = &[
            ("DNT", b" 1 ", (true, false, false)),
            ("DNT", b"0", (false, false, false)),
            ("X-Do-Not-Track", b"1", (true, false, false)),
            ("Sec-GPC", b"1", (false, true, false)),
            ("Sec-GPC", b"0", (false, false, false)),
            ("Sec-Purpose", b"prefetch;prerender", (false, false, true)),
            ("Purpose", b"Prefetch", (false, false, true)),
            ("X-Moz", b"prefetch", (false, false, true)),
            ("Sec-Purpose", b"prerender", (false, false, false)),
        ];
        for (name, value, expected) in cases {
            let h = scan(&[(name, value)]);
            let got = (h.do_not_track, h.global_privacy_control, h.prefetch);
            assert_eq!(got, *expected, "{name}");
        }
    }
}
