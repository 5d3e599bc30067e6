//! The pages' two languages: every string from a Fluent catalogue
//! (`dashboard/locales/{fr,en}.ftl`), numbers and dates written as each
//! language writes them (French: `12 345`, `45,2 %`, `2 déc. 2026`).

use chrono::{Datelike, NaiveDate};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Fr,
    En,
}

pub const CATALOGUES: [(Lang, &str); 2] = [
    (Lang::Fr, include_str!("../../locales/fr.ftl")),
    (Lang::En, include_str!("../../locales/en.ftl")),
];

static BUNDLES: LazyLock<[FluentBundle<FluentResource>; 2]> =
    LazyLock::new(|| CATALOGUES.map(|(lang, text)| bundle(lang, text)));

fn bundle(lang: Lang, text: &str) -> FluentBundle<FluentResource> {
    let id = lang.code().parse().expect("a valid language tag");
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // Marks around placeables would end up in attributes and CSV names.
    bundle.set_use_isolating(false);
    let resource = FluentResource::try_new(text.to_owned()).expect("a valid catalogue");
    bundle.add_resource(resource).expect("unique keys");
    bundle
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Fr, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    /// The language's own name, for the switch.
    pub fn own_name(self) -> &'static str {
        match self {
            Lang::Fr => "Français",
            Lang::En => "English",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code() == code)
    }

    /// The first of ours an `Accept-Language` header prefers; French when
    /// it names neither.
    pub fn negotiate(accept: Option<&str>) -> Lang {
        let mut wanted: Vec<(f32, Lang)> = accept
            .unwrap_or("")
            .split(',')
            .filter_map(|item| {
                let mut parts = item.split(';');
                let tag = parts.next()?.trim().to_ascii_lowercase();
                let quality = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
                let primary = tag.split('-').next()?;
                Some((quality, Lang::from_code(primary)?))
            })
            .filter(|(q, _)| *q > 0.0)
            .collect();
        // Stable: among equal qualities the header's order wins.
        wanted.sort_by(|a, b| b.0.total_cmp(&a.0));
        wanted.first().map_or(Lang::Fr, |(_, lang)| *lang)
    }

    fn bundle(self) -> &'static FluentBundle<FluentResource> {
        &BUNDLES[self as usize]
    }

    /// The message `key`; the key itself if the catalogue lacks it (a test
    /// makes sure none does).
    pub fn t(self, key: &str) -> String {
        self.format(key, None)
    }

    /// The message `key` with its arguments.
    pub fn t_with(self, key: &str, args: &[(&str, Arg)]) -> String {
        let mut fluent = FluentArgs::new();
        for (name, value) in args {
            match value {
                Arg::Text(text) => fluent.set(*name, FluentValue::from(text.clone())),
                Arg::Count(n) => fluent.set(*name, FluentValue::from(*n)),
            }
        }
        self.format(key, Some(&fluent))
    }

    fn format(self, key: &str, args: Option<&FluentArgs>) -> String {
        let bundle = self.bundle();
        let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
            return key.to_owned();
        };
        let mut errors = Vec::new();
        bundle
            .format_pattern(pattern, args, &mut errors)
            .into_owned()
    }

    /// A whole number with the language's thousands separator.
    pub fn integer(self, n: u64) -> String {
        let digits = n.to_string();
        let separator = match self {
            Lang::Fr => "\u{202f}",
            Lang::En => ",",
        };
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push_str(separator);
            }
            out.push(c);
        }
        out
    }

    /// A number with at most `decimals` decimals (trailing zeros dropped).
    pub fn decimal(self, n: f64, decimals: usize) -> String {
        let sign = if n < 0.0 { "-" } else { "" };
        let text = format!("{:.*}", decimals, n.abs());
        let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
        let fraction = fraction.trim_end_matches('0');
        let whole = self.integer(whole.parse().unwrap_or(0));
        if fraction.is_empty() {
            format!("{sign}{whole}")
        } else {
            let point = match self {
                Lang::Fr => ",",
                Lang::En => ".",
            };
            format!("{sign}{whole}{point}{fraction}")
        }
    }

    /// A percentage given in percent (`45.2` is `45,2 %` or `45.2%`).
    pub fn percent(self, n: f64) -> String {
        match self {
            Lang::Fr => format!("{}\u{202f}%", self.decimal(n, 1)),
            Lang::En => format!("{}%", self.decimal(n, 1)),
        }
    }

    /// A duration in seconds: `2 min 05 s`, `1 h 02 min`.
    pub fn duration(self, seconds: f64) -> String {
        let s = seconds.max(0.0).round() as u64;
        let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
        let nb = "\u{a0}";
        if h > 0 {
            format!("{h}{nb}h {m:02}{nb}min")
        } else if m > 0 {
            format!("{m}{nb}min {s:02}{nb}s")
        } else {
            format!("{s}{nb}s")
        }
    }

    /// A date as the language writes it in running text, abbreviated.
    pub fn date(self, date: NaiveDate) -> String {
        const FR: [&str; 12] = [
            "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
            "nov.", "déc.",
        ];
        const EN: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let month = date.month0() as usize;
        match self {
            Lang::Fr => format!("{}\u{a0}{} {}", date.day(), FR[month], date.year()),
            Lang::En => format!("{} {}, {}", EN[month], date.day(), date.year()),
        }
    }

    /// A month as a chart's bucket: `déc. 2026`, `Dec 2026`.
    pub fn month(self, date: NaiveDate) -> String {
        let full = self.date(date.with_day(1).unwrap_or(date));
        match self {
            Lang::Fr => full
                .split_once('\u{a0}')
                .map_or(full.clone(), |(_, r)| r.to_owned()),
            Lang::En => full.replacen(" 1,", "", 1),
        }
    }
}

/// A message argument.
#[derive(Debug, Clone)]
pub enum Arg {
    Text(String),
    /// A count: chooses the plural form.
    Count(u64),
}

impl From<&str> for Arg {
    fn from(text: &str) -> Arg {
        Arg::Text(text.to_owned())
    }
}

impl From<u64> for Arg {
    fn from(count: u64) -> Arg {
        Arg::Count(count)
    }
}

impl From<String> for Arg {
    fn from(text: String) -> Arg {
        Arg::Text(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn keys(text: &str) -> BTreeSet<String> {
        text.lines()
            .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
            .filter_map(|l| Some(l.split_once(" =")?.0.trim().to_owned()))
            .collect()
    }

    #[test]
    fn both_catalogues_have_the_same_keys_and_parse() {
        let [(_, fr), (_, en)] = CATALOGUES;
        let (fr, en) = (keys(fr), keys(en));
        assert!(en.len() > 100, "{}", en.len());
        assert_eq!(
            fr.symmetric_difference(&en).collect::<Vec<_>>(),
            Vec::<&String>::new()
        );
        for lang in Lang::ALL {
            for key in &en {
                assert_ne!(lang.t(key), *key, "{key} in {}", lang.code());
            }
        }
    }

    #[test]
    fn numbers_and_dates_as_each_language_writes_them() {
        assert_eq!(Lang::Fr.integer(12_345), "12\u{202f}345");
        assert_eq!(Lang::En.integer(1_234_567), "1,234,567");
        assert_eq!(Lang::En.integer(999), "999");
        assert_eq!(Lang::Fr.decimal(1.5, 2), "1,5");
        assert_eq!(Lang::En.decimal(2.0, 2), "2");
        assert_eq!(Lang::En.decimal(-3.26, 1), "-3.3");
        assert_eq!(Lang::Fr.percent(45.2), "45,2\u{202f}%");
        assert_eq!(Lang::En.percent(45.0), "45%");
        assert_eq!(Lang::En.duration(125.0), "2\u{a0}min 05\u{a0}s");
        assert_eq!(Lang::Fr.duration(3720.0), "1\u{a0}h 02\u{a0}min");
        assert_eq!(Lang::Fr.duration(7.0), "7\u{a0}s");
        let day = NaiveDate::from_ymd_opt(2026, 12, 2).expect("date");
        assert_eq!(Lang::Fr.date(day), "2\u{a0}déc. 2026");
        assert_eq!(Lang::En.date(day), "Dec 2, 2026");
        assert_eq!(Lang::Fr.month(day), "déc. 2026");
        assert_eq!(Lang::En.month(day), "Dec 2026");
    }

    #[test]
    fn plural_forms_and_arguments() {
        let hidden = |lang: Lang, rows| {
            lang.t_with(
                "panel-hidden",
                &[("rows", Arg::Count(rows)), ("threshold", Arg::Count(5))],
            )
        };
        assert_eq!(hidden(Lang::En, 1), "One row below 5 visitors is hidden.");
        assert_eq!(
            hidden(Lang::Fr, 3),
            "3 lignes de moins de 5 visiteurs sont masquées."
        );
        assert_eq!(Lang::Fr.t("no-such-key"), "no-such-key");
    }

    #[test]
    fn the_language_follows_accept_language() {
        assert_eq!(Lang::negotiate(None), Lang::Fr);
        assert_eq!(Lang::negotiate(Some("en-GB,en;q=0.9")), Lang::En);
        assert_eq!(Lang::negotiate(Some("de, en;q=0.5, fr;q=0.8")), Lang::Fr);
        assert_eq!(Lang::negotiate(Some("fr-FR;q=0, en")), Lang::En);
        assert_eq!(Lang::negotiate(Some("de-DE")), Lang::Fr);
        assert_eq!(Lang::negotiate(Some(";;q=x,,")), Lang::Fr);
    }
}
