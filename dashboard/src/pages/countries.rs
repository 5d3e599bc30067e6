//! Countries by their ISO 3166-1 alpha-2 code: the name in each language
//! and the shape the map draws (`dashboard/vendor/countries.json`, made by
//! `scripts/vendor-data.mjs` from i18n-iso-countries and world-atlas).

use super::i18n::Lang;
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// The map's drawing area.
pub const WIDTH: u32 = 1000;
pub const HEIGHT: u32 = 500;

/// French name, English name, SVG path (empty when too small to draw).
type Entry = (String, String, String);

static COUNTRIES: LazyLock<BTreeMap<String, Entry>> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../../vendor/countries.json")).expect("valid countries")
});

/// A country's name, if the code is one.
pub fn name(lang: Lang, code: &str) -> Option<&'static str> {
    let (fr, en, _) = COUNTRIES.get(code)?;
    Some(match lang {
        Lang::Fr => fr,
        Lang::En => en,
    })
}

/// Every country the map draws: its code and path.
pub fn shapes() -> impl Iterator<Item = (&'static str, &'static str)> {
    COUNTRIES
        .iter()
        .filter(|(_, (_, _, path))| !path.is_empty())
        .map(|(code, (_, _, path))| (code.as_str(), path.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_both_languages_and_shapes() {
        assert_eq!(name(Lang::Fr, "DE"), Some("Allemagne"));
        assert_eq!(name(Lang::En, "DE"), Some("Germany"));
        assert_eq!(name(Lang::En, "ZZ"), None);
        assert!(COUNTRIES.len() > 240, "{}", COUNTRIES.len());
        let drawn: Vec<&str> = shapes().map(|(code, _)| code).collect();
        assert!(drawn.len() > 150, "{}", drawn.len());
        // New Caledonia is drawn apart from France.
        for code in ["FR", "US", "BR", "NC"] {
            assert!(drawn.contains(&code), "{code}");
        }
        assert!(shapes().all(|(_, path)| path.starts_with('M') && path.ends_with('Z')));
    }
}
