//! What a page shows, wholly in its URL: the period, the comparison, the
//! filters, the chart's metric, each panel's tab and the language. A view
//! is bookmarked and shared as a link, and every link of a page is the
//! same view with one thing changed.

use super::i18n::Lang;
use crate::query::fields::{Dimension, Level, Metric};
use crate::query::filter::Operator;
use crate::query::period::local_date;
use chrono::{Datelike, Days, Months, NaiveDate};
use chrono_tz::Tz;
use serde_json::{Value, json};

/// Most filters a view holds (the API allows more; a page needs few).
pub const MAX_FILTERS: usize = 10;
/// Longest query string read.
pub const MAX_QUERY: usize = 4096;

/// The periods a page offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodChoice {
    Day,
    Yesterday,
    Days7,
    Days30,
    Month,
    LastMonth,
    Months6,
    Months12,
    Custom(NaiveDate, NaiveDate),
}

impl PeriodChoice {
    pub const OFFERED: [PeriodChoice; 8] = [
        PeriodChoice::Day,
        PeriodChoice::Yesterday,
        PeriodChoice::Days7,
        PeriodChoice::Days30,
        PeriodChoice::Month,
        PeriodChoice::LastMonth,
        PeriodChoice::Months6,
        PeriodChoice::Months12,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PeriodChoice::Day => "day",
            PeriodChoice::Yesterday => "yesterday",
            PeriodChoice::Days7 => "7d",
            PeriodChoice::Days30 => "30d",
            PeriodChoice::Month => "month",
            PeriodChoice::LastMonth => "last-month",
            PeriodChoice::Months6 => "6mo",
            PeriodChoice::Months12 => "12mo",
            PeriodChoice::Custom(..) => "custom",
        }
    }

    /// The catalogue key of its label.
    pub fn label_key(self) -> String {
        format!("period-{}", self.name())
    }

    /// The stats API's `date_range` for it, `now_ms` in the site's `tz`.
    pub fn date_range(self, tz: Tz, now_ms: i64) -> Value {
        let today = local_date(tz, now_ms);
        let pair = |a: NaiveDate, b: NaiveDate| json!([a.to_string(), b.to_string()]);
        match self {
            PeriodChoice::Day => json!("day"),
            PeriodChoice::Yesterday => {
                let day = today - Days::new(1);
                pair(day, day)
            }
            PeriodChoice::Days7 => json!("7d"),
            PeriodChoice::Days30 => json!("30d"),
            PeriodChoice::Month => json!("month"),
            PeriodChoice::LastMonth => {
                let first = today.with_day(1).unwrap_or(today) - Months::new(1);
                let last = today.with_day(1).unwrap_or(today) - Days::new(1);
                pair(first, last)
            }
            PeriodChoice::Months6 => json!("6mo"),
            PeriodChoice::Months12 => json!("12mo"),
            PeriodChoice::Custom(a, b) => pair(a, b),
        }
    }
}

/// What a period is compared with on the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    Off,
    Previous,
    Year,
}

impl Compare {
    pub const ALL: [Compare; 3] = [Compare::Off, Compare::Previous, Compare::Year];

    pub fn name(self) -> &'static str {
        match self {
            Compare::Off => "off",
            Compare::Previous => "previous",
            Compare::Year => "year",
        }
    }

    /// The stats API's comparison mode.
    pub fn mode(self) -> Option<&'static str> {
        match self {
            Compare::Off => None,
            Compare::Previous => Some("previous_period"),
            Compare::Year => Some("year_over_year"),
        }
    }
}

/// One filter as the page holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewFilter {
    pub operator: Operator,
    pub dimension: Dimension,
    pub value: String,
}

impl ViewFilter {
    /// `is|visit:country|FR`: the value last, so it may hold a `|`.
    fn encode(&self) -> String {
        format!(
            "{}|{}|{}",
            self.operator.name(),
            self.dimension.name(),
            self.value
        )
    }

    fn decode(text: &str) -> Result<ViewFilter, String> {
        let mut parts = text.splitn(3, '|');
        let (Some(op), Some(dim), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("filter {text:?}"));
        };
        Ok(ViewFilter {
            operator: Operator::parse(op).ok_or_else(|| format!("filter operator {op:?}"))?,
            dimension: Dimension::parse(dim)
                .filter(|d| d.level() != Level::Time)
                .ok_or_else(|| format!("filter dimension {dim:?}"))?,
            value: value.to_owned(),
        })
    }
}

/// The tabs of a panel: each shows one dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tabs {
    /// The URL parameter that holds the choice.
    pub param: &'static str,
    pub title_key: &'static str,
    /// Tab names (in the URL), their label keys, their dimensions.
    pub tabs: &'static [(&'static str, &'static str, Dimension)],
}

pub const PANELS: [Tabs; 4] = [
    Tabs {
        param: "pages",
        title_key: "panel-pages",
        tabs: &[
            ("top", "tab-top", Dimension::Page),
            ("entry", "tab-entry", Dimension::EntryPage),
            ("exit", "tab-exit", Dimension::ExitPage),
        ],
    },
    Tabs {
        param: "sources",
        title_key: "panel-sources",
        tabs: &[
            ("channel", "tab-channel", Dimension::Channel),
            ("source", "tab-source", Dimension::Source),
            ("referrer", "tab-referrer", Dimension::Referrer),
        ],
    },
    Tabs {
        param: "locations",
        title_key: "panel-locations",
        tabs: &[
            ("country", "tab-country", Dimension::Country),
            ("region", "tab-region", Dimension::RegionName),
            ("city", "tab-city", Dimension::CityName),
        ],
    },
    Tabs {
        param: "devices",
        title_key: "panel-devices",
        tabs: &[
            ("browser", "tab-browser", Dimension::Browser),
            ("os", "tab-os", Dimension::Os),
            ("device", "tab-device", Dimension::Device),
        ],
    },
];

/// The chart's metrics on offer: the headline figures.
pub const CHART_METRICS: [Metric; 6] = Metric::HEADLINE;

/// A page's whole state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub period: PeriodChoice,
    pub compare: Compare,
    pub filters: Vec<ViewFilter>,
    pub metric: Metric,
    /// The chosen tab of each of [`PANELS`], by index.
    pub tabs: [usize; PANELS.len()],
    /// Versions shown beside browsers and systems.
    pub versions: bool,
    /// Chosen in the page; otherwise from `Accept-Language`.
    pub lang: Option<Lang>,
}

impl Default for View {
    fn default() -> View {
        View {
            period: PeriodChoice::Days30,
            compare: Compare::Previous,
            filters: Vec::new(),
            metric: Metric::Visitors,
            tabs: [0; PANELS.len()],
            versions: false,
            lang: None,
        }
    }
}

impl View {
    /// Reads a view from a URL's query string; anything unknown is an error
    /// that names it.
    pub fn parse(query: &str) -> Result<View, String> {
        if query.len() > MAX_QUERY {
            return Err(format!("a link longer than {MAX_QUERY} bytes"));
        }
        let mut view = View::default();
        let (mut from, mut to) = (None, None);
        let mut period = None;
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let date = || {
                NaiveDate::parse_from_str(&value, "%Y-%m-%d")
                    .map_err(|_| format!("{key} {value:?}"))
            };
            match key.as_ref() {
                "period" => period = Some(value.into_owned()),
                "from" => from = Some(date()?),
                "to" => to = Some(date()?),
                "compare" => {
                    view.compare = Compare::ALL
                        .into_iter()
                        .find(|c| c.name() == value)
                        .ok_or_else(|| format!("compare {value:?}"))?;
                }
                "f" => {
                    if view.filters.len() == MAX_FILTERS {
                        return Err(format!("more than {MAX_FILTERS} filters"));
                    }
                    view.filters.push(ViewFilter::decode(&value)?);
                }
                "metric" => {
                    view.metric = CHART_METRICS
                        .into_iter()
                        .find(|m| m.name() == value)
                        .ok_or_else(|| format!("metric {value:?}"))?;
                }
                "versions" => view.versions = value == "1",
                "lang" => {
                    view.lang =
                        Some(Lang::from_code(&value).ok_or_else(|| format!("lang {value:?}"))?);
                }
                name => {
                    let (i, panel) = PANELS
                        .iter()
                        .enumerate()
                        .find(|(_, p)| p.param == name)
                        .ok_or_else(|| format!("setting {name:?}"))?;
                    view.tabs[i] = panel
                        .tabs
                        .iter()
                        .position(|(tab, _, _)| *tab == value)
                        .ok_or_else(|| format!("{name} {value:?}"))?;
                }
            }
        }
        view.period = match period.as_deref() {
            None => PeriodChoice::Days30,
            Some("custom") => match (from, to) {
                (Some(a), Some(b)) if a <= b => PeriodChoice::Custom(a, b),
                _ => return Err("a custom period needs from and to, in order".to_owned()),
            },
            Some(name) => PeriodChoice::OFFERED
                .into_iter()
                .find(|p| p.name() == name)
                .ok_or_else(|| format!("period {name:?}"))?,
        };
        Ok(view)
    }

    /// The query string of this view: only what differs from the default.
    pub fn query(&self) -> String {
        let default = View::default();
        let mut out = form_urlencoded::Serializer::new(String::new());
        if self.period != default.period {
            out.append_pair("period", self.period.name());
            if let PeriodChoice::Custom(a, b) = self.period {
                out.append_pair("from", &a.to_string());
                out.append_pair("to", &b.to_string());
            }
        }
        if self.compare != default.compare {
            out.append_pair("compare", self.compare.name());
        }
        for filter in &self.filters {
            out.append_pair("f", &filter.encode());
        }
        if self.metric != default.metric {
            out.append_pair("metric", self.metric.name());
        }
        for (panel, (tab, default)) in PANELS.iter().zip(self.tabs.iter().zip(default.tabs)) {
            if *tab != default {
                out.append_pair(panel.param, panel.tabs[*tab].0);
            }
        }
        if self.versions {
            out.append_pair("versions", "1");
        }
        if let Some(lang) = self.lang {
            out.append_pair("lang", lang.code());
        }
        out.finish()
    }

    /// `path` with this view, changed by `change`.
    pub fn link(&self, path: &str, change: impl FnOnce(&mut View)) -> String {
        let mut view = self.clone();
        change(&mut view);
        let query = view.query();
        if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{query}")
        }
    }

    /// The stats API's filters.
    pub fn api_filters(&self) -> Value {
        Value::Array(
            self.filters
                .iter()
                .map(|f| json!([f.operator.name(), f.dimension.name(), [f.value]]))
                .collect(),
        )
    }

    /// The dimension each panel shows, with versions when asked.
    pub fn panel_dimension(&self, panel: usize) -> Dimension {
        let dimension = PANELS[panel].tabs[self.tabs[panel]].2;
        match dimension {
            Dimension::Browser if self.versions => Dimension::BrowserVersion,
            Dimension::Os if self.versions => Dimension::OsVersion,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_round_trips_through_its_link() {
        let view = View {
            period: PeriodChoice::Custom(
                NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"),
                NaiveDate::from_ymd_opt(2026, 11, 30).expect("date"),
            ),
            compare: Compare::Year,
            filters: vec![
                ViewFilter {
                    operator: Operator::Is,
                    dimension: Dimension::Country,
                    value: "FR".into(),
                },
                ViewFilter {
                    operator: Operator::Contains,
                    dimension: Dimension::Page,
                    value: "/a|b&c=d é".into(),
                },
            ],
            metric: Metric::BounceRate,
            tabs: [2, 1, 0, 2],
            versions: true,
            lang: Some(Lang::En),
        };
        let query = view.query();
        assert_eq!(View::parse(&query), Ok(view));
        assert_eq!(View::default().query(), "");
        assert_eq!(View::parse(""), Ok(View::default()));
    }

    #[test]
    fn unknown_settings_are_named() {
        for (query, named) in [
            ("period=forever", "period"),
            ("period=custom&from=2026-12-02", "custom"),
            ("period=custom&from=2026-12-02&to=2026-12-01", "custom"),
            ("from=2026-13-01", "from"),
            ("compare=decade", "compare"),
            ("f=is|visit:nothing|x", "dimension"),
            ("f=like|visit:country|x", "operator"),
            ("f=is", "filter"),
            ("metric=percentage", "metric"),
            ("pages=best", "pages"),
            ("lang=de", "lang"),
            ("evil=1", "evil"),
        ] {
            let error = View::parse(query).expect_err(query);
            assert!(error.contains(named), "{query}: {error}");
        }
        assert!(View::parse(&"f=is|visit:country|FR&".repeat(11)).is_err());
        assert!(View::parse(&"x".repeat(MAX_QUERY + 1)).is_err());
    }

    #[test]
    fn named_periods_become_the_api_ranges() {
        let tz = chrono_tz::Europe::Paris;
        // 2026-12-02 10:00 UTC.
        let now = 1_796_205_600_000;
        assert_eq!(
            PeriodChoice::Yesterday.date_range(tz, now),
            json!(["2026-12-01", "2026-12-01"])
        );
        assert_eq!(
            PeriodChoice::LastMonth.date_range(tz, now),
            json!(["2026-11-01", "2026-11-30"])
        );
        assert_eq!(PeriodChoice::Months6.date_range(tz, now), json!("6mo"));
    }
}
