//! Do Not Track, Global Privacy Control and the visitor's opt-out: the hit is
//! acknowledged and dropped.

use super::headers::Headers;
use crate::event::DropReason;
use crate::wire::Hit;

pub fn check(hit: &Hit, headers: &Headers<'_>, honor_signals: bool) -> Result<(), DropReason> {
    if hit.opt_out {
        return Err(DropReason::OptOut);
    }
    if honor_signals {
        if headers.do_not_track {
            return Err(DropReason::DoNotTrack);
        }
        if headers.global_privacy_control {
            return Err(DropReason::GlobalPrivacyControl);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::parse_pixel;
    use http::HeaderMap;

    fn check_headers(
        headers: &[(&str, &str)],
        opt_out: bool,
        honor: bool,
    ) -> Result<(), DropReason> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                value.parse().expect("value"),
            );
        }
        let hit = parse_pixel(if opt_out { "s=a&o=1" } else { "s=a" }).expect("hit");
        check(&hit, &Headers::scan(&map), honor)
    }

    #[test]
    fn data_driven() {
        use DropReason::*;
        type Headers<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(Headers<'_>, bool, bool, Result<(), DropReason>)] = &[
            (&[], false, true, Ok(())),
            (&[("DNT", "1")], false, true, Err(DoNotTrack)),
            (&[("DNT", " 1 ")], false, true, Err(DoNotTrack)),
            (&[("DNT", "0")], false, true, Ok(())),
            (&[("X-Do-Not-Track", "1")], false, true, Err(DoNotTrack)),
            (&[("Sec-GPC", "1")], false, true, Err(GlobalPrivacyControl)),
            (&[("Sec-GPC", "0")], false, true, Ok(())),
            (&[], true, true, Err(OptOut)),
            (&[("DNT", "1")], false, false, Ok(())),
            (&[], true, false, Err(OptOut)),
        ];
        for (headers, opt_out, honor, expected) in cases {
            assert_eq!(
                check_headers(headers, *opt_out, *honor),
                *expected,
                "{headers:?} {opt_out}"
            );
        }
    }
}
