//! The beacon: `POST /api/event` with a JSON object, as Mesure's script,
//! `navigator.sendBeacon` (`text/plain`) and Plausible's clients send it.

use super::{Builder, Hit, MAX_URL, WireError, optional};
use crate::event::Tracker;
use serde_json::{Map, Value};

/// Largest beacon body accepted, in bytes.
pub const MAX_BODY: usize = 16 * 1024;

/// Parses a beacon. `tracker` is `Script` for Mesure's own endpoint, which
/// Plausible's clients share: their payloads (no `s`, no `w`) are counted as
/// `Plausible`.
pub fn parse_beacon(body: &[u8], tracker: Tracker) -> Result<Hit, WireError> {
    if body.len() > MAX_BODY {
        return Err(WireError::TooLong("body"));
    }
    let text = std::str::from_utf8(body).map_err(|_| WireError::BodyEncoding)?;
    let object: Map<String, Value> =
        serde_json::from_str(text).map_err(|e| WireError::Json(e.to_string()))?;
    let mut hit = Builder::default();
    let text_field = |key: &'static str| -> Result<&str, WireError> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(""),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(WireError::Value(key)),
        }
    };
    hit.site_id(text_field("s")?)?;
    hit.domain(text_field("d")?)?;
    hit.url = optional(text_field("u")?, MAX_URL, "u")?;
    hit.referrer = optional(text_field("r")?, MAX_URL, "r")?;
    hit.target = optional(text_field("t")?, MAX_URL, "t")?;
    hit.kind(text_field("k")?)?;
    hit.name(text_field("n")?)?;
    match object.get("w") {
        None | Some(Value::Null) => {}
        Some(Value::Number(n)) => hit.screen_width(&n.to_string())?,
        Some(Value::String(s)) => hit.screen_width(s)?,
        Some(_) => return Err(WireError::Value("w")),
    }
    hit.hash_routing = matches!(object.get("h"), Some(Value::Number(n)) if n.as_u64() == Some(1))
        || matches!(object.get("h"), Some(Value::Bool(true)));
    match object.get("o") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => hit.opt_out = *b,
        Some(Value::Number(n)) => hit.opt_out = n.as_u64() == Some(1),
        Some(Value::String(s)) => hit.opt_out(s),
        Some(_) => return Err(WireError::Value("o")),
    }
    for key in ["p", "m"] {
        let props = match object.get(key) {
            None | Some(Value::Null) => continue,
            Some(Value::Object(map)) => props_from_map(map)?,
            Some(Value::String(text)) => props_from_json_text(text)?,
            Some(_) => return Err(WireError::Value("p")),
        };
        for (k, v) in props {
            hit.prop(&k, &v)?;
        }
    }
    let tracker = match tracker {
        Tracker::Script if !object.contains_key("s") && !object.contains_key("w") => {
            Tracker::Plausible
        }
        other => other,
    };
    hit.build(tracker)
}

/// Properties sent as JSON text (the pixel's `p`, Plausible's older `m`).
pub(super) fn props_from_json_text(text: &str) -> Result<Vec<(String, String)>, WireError> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let map: Map<String, Value> =
        serde_json::from_str(text).map_err(|e| WireError::Json(e.to_string()))?;
    props_from_map(&map)
}

/// Scalar values become strings; nulls are skipped; nested values are refused.
fn props_from_map(map: &Map<String, Value>) -> Result<Vec<(String, String)>, WireError> {
    if map.len() > super::MAX_PROPS {
        return Err(WireError::TooManyProps);
    }
    let mut props = Vec::with_capacity(map.len());
    for (key, value) in map {
        let value = match value {
            Value::Null => continue,
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Array(_) | Value::Object(_) => return Err(WireError::Value("p")),
        };
        props.push((key.clone(), value));
    }
    Ok(props)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Kind;
    use crate::wire::SiteKey;

    fn parse(body: &str) -> Result<Hit, WireError> {
        parse_beacon(body.as_bytes(), Tracker::Script)
    }

    #[test]
    fn mesure_beacon() {
        let hit = parse(r#"{"s":"a","u":"https://a.fr/x","r":"","w":390,"k":"pageview"}"#)
            .expect("valid");
        assert_eq!(hit.site, SiteKey::Id("a".into()));
        assert_eq!(hit.url.as_deref(), Some("https://a.fr/x"));
        assert_eq!(hit.referrer, None);
        assert_eq!(hit.screen_width, Some(390));
    }

    #[test]
    fn plausible_payloads() {
        let hit =
            parse(r#"{"n":"pageview","u":"https://a.fr/","d":"a.fr","r":null,"w":1440,"h":0}"#)
                .expect("valid");
        assert_eq!(
            (hit.site, hit.kind),
            (SiteKey::Domain("a.fr".into()), Kind::Pageview)
        );
        let hit = parse(r#"{"n":"Outbound Link: Click","u":"https://a.fr/","d":"a.fr","p":{"url":"https://b.fr/x"}}"#)
            .expect("valid");
        assert_eq!(hit.kind, Kind::Outlink);
        assert_eq!(hit.target.as_deref(), Some("https://b.fr/x"));
        assert!(hit.props.is_empty());
        let hit = parse(r#"{"n":"Signup","u":"https://a.fr/","d":"a.fr","m":"{\"plan\":\"pro\",\"seats\":3,\"x\":null}"}"#)
            .expect("valid");
        assert_eq!((hit.kind, hit.name.as_str()), (Kind::Custom, "Signup"));
        assert_eq!(
            hit.props,
            [("plan".into(), "pro".into()), ("seats".into(), "3".into())]
        );
    }

    #[test]
    fn bad_bodies() {
        let check = |body: &[u8], expected: fn(&WireError) -> bool| {
            let error = parse_beacon(body, Tracker::Script).expect_err("must fail");
            assert!(
                expected(&error),
                "{:?}: {error:?}",
                String::from_utf8_lossy(body)
            );
        };
        check(b"", |e| matches!(e, WireError::Json(_)));
        check(b"not json", |e| matches!(e, WireError::Json(_)));
        check(b"[1,2]", |e| matches!(e, WireError::Json(_)));
        check(b"{\"s\":\"a\"", |e| matches!(e, WireError::Json(_)));
        check(b"{\"s\":\"\xff\"}", |e| *e == WireError::BodyEncoding);
        check(b"{\"u\":\"https://a.fr\"}", |e| {
            *e == WireError::MissingSite
        });
        check(b"{\"s\":1}", |e| *e == WireError::Value("s"));
        check(b"{\"s\":\"a\",\"w\":[1]}", |e| *e == WireError::Value("w"));
        check(b"{\"s\":\"a\",\"w\":1e400}", |e| {
            matches!(e, WireError::Json(_))
        });
        check(b"{\"s\":\"a\",\"w\":99999999999999999999}", |e| {
            *e == WireError::Value("w")
        });
        check(b"{\"s\":\"a\",\"p\":{\"a\":{\"b\":1}}}", |e| {
            *e == WireError::Value("p")
        });
        check(b"{\"s\":\"a\",\"p\":[1]}", |e| *e == WireError::Value("p"));
        let many: Vec<String> = (0..31).map(|i| format!("\"k{i}\":\"v\"")).collect();
        check(
            format!("{{\"s\":\"a\",\"p\":{{{}}}}}", many.join(",")).as_bytes(),
            |e| *e == WireError::TooManyProps,
        );
        check(&vec![b' '; MAX_BODY + 1], |e| {
            *e == WireError::TooLong("body")
        });
    }
}
