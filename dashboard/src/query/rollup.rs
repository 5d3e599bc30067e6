//! Rollups: what the materialized views keep per site and UTC hour
//! (`hourly_totals`) and per site, UTC day, dimension and value
//! (`daily_breakdowns`). Visitor ids live one UTC day, so a day's unique
//! visitors are its states merged and a range's are the days' sum: exact,
//! however long the range.
//!
//! A query without filters, for totals or a time series, reads the hours
//! of its range; for a breakdown, the whole UTC days inside its range, and
//! the raw events of the part days at its edges (a site's local day starts
//! and ends inside UTC days). Anything else reads raw events.

use super::fields::{Bucket, Dimension, Level, Metric};
use super::period::Period;
use super::sql::{Param, Sql};
use super::{Query, Sums};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// What a rollup can answer of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Totals, or a time series: `hourly_totals`.
    Totals(Option<Bucket>),
    /// One breakdown: `daily_breakdowns`, by this dimension's name there.
    Breakdown(&'static str, Level),
}

/// The name a dimension has in `daily_breakdowns`, and the metrics it holds
/// for it.
fn breakdown(dimension: Dimension) -> Option<(&'static str, &'static [Metric])> {
    const HITS: &[Metric] = &[
        Metric::Visitors,
        Metric::Visits,
        Metric::Pageviews,
        Metric::Events,
        Metric::Percentage,
    ];
    const ALL: &[Metric] = &[
        Metric::Visitors,
        Metric::Visits,
        Metric::Pageviews,
        Metric::Events,
        Metric::Percentage,
        Metric::ViewsPerVisit,
        Metric::BounceRate,
        Metric::VisitDuration,
    ];
    Some(match dimension {
        Dimension::Page => ("page", HITS),
        Dimension::Hostname => ("hostname", HITS),
        Dimension::EventName => ("event", HITS),
        Dimension::OutboundLink => ("outbound", HITS),
        Dimension::FileDownload => ("download", HITS),
        Dimension::EntryPage => ("entry_page", &[Metric::Visitors, Metric::Visits]),
        Dimension::Source => ("source", ALL),
        Dimension::Referrer => ("referrer", ALL),
        Dimension::Channel => ("channel", ALL),
        Dimension::Country => ("country", ALL),
        Dimension::RegionName => ("region", ALL),
        Dimension::CityName => ("city", ALL),
        Dimension::Browser => ("browser", ALL),
        Dimension::BrowserVersion => ("browser_version", ALL),
        Dimension::Os => ("os", ALL),
        Dimension::OsVersion => ("os_version", ALL),
        Dimension::Device => ("device", ALL),
        Dimension::UtmSource => ("utm_source", ALL),
        Dimension::UtmMedium => ("utm_medium", ALL),
        Dimension::UtmCampaign => ("utm_campaign", ALL),
        Dimension::UtmContent => ("utm_content", ALL),
        Dimension::UtmTerm => ("utm_term", ALL),
        _ => return None,
    })
}

/// What a rollup can answer of `query`, if anything.
pub fn shape(query: &Query) -> Option<Shape> {
    if query.raw || !query.filters.is_empty() {
        return None;
    }
    match query.dimensions.as_slice() {
        [] => Some(Shape::Totals(None)),
        [Dimension::Bucket(bucket)] => Some(Shape::Totals(Some(*bucket))),
        [dimension] => {
            let (name, metrics) = breakdown(*dimension)?;
            query
                .metrics
                .iter()
                .all(|m| metrics.contains(m))
                .then_some(Shape::Breakdown(name, dimension.level()))
        }
        _ => None,
    }
    .filter(|shape| {
        matches!(shape, Shape::Breakdown(..))
            || query
                .metrics
                .iter()
                .all(|m| !matches!(m, Metric::Percentage | Metric::ConversionRate))
    })
}

/// How a period splits: rollup for `[whole.0, whole.1)`, raw events for the
/// edges. `None` when the rollup can answer nothing of it.
pub fn split(shape: Shape, period: &Period) -> Option<((i64, i64), Vec<Period>)> {
    let unit = match shape {
        Shape::Totals(_) => HOUR_MS,
        Shape::Breakdown(..) => DAY_MS,
    };
    let first = period.start_ms.div_euclid(unit) * unit
        + if period.start_ms.rem_euclid(unit) == 0 {
            0
        } else {
            unit
        };
    let last = period.end_ms.div_euclid(unit) * unit;
    if first >= last {
        return None;
    }
    // Totals need whole hours: a time zone off the hour reads raw events.
    if unit == HOUR_MS && (first != period.start_ms || last != period.end_ms) {
        return None;
    }
    let edge = |start_ms: i64, end_ms: i64| Period {
        start_ms,
        end_ms,
        instants: true,
        ..*period
    };
    let mut edges = Vec::new();
    if period.start_ms < first {
        edges.push(edge(period.start_ms, first));
    }
    if last < period.end_ms {
        edges.push(edge(last, period.end_ms));
    }
    Some(((first, last), edges))
}

/// Sums per dimension values: `d0` (when any), then the sums' columns.
pub fn sql(query: &Query, shape: Shape, (start_ms, end_ms): (i64, i64)) -> Sql {
    let site = Param::Text(query.site.id.to_string());
    let mut inner = Sql::new("SELECT ");
    let grouped = match shape {
        Shape::Totals(None) => false,
        Shape::Totals(Some(bucket)) => {
            inner.bind(&bucket.sql("hour"), Param::Text(query.tz.name().to_owned()));
            inner.push(" AS d0, ");
            true
        }
        Shape::Breakdown(..) => {
            inner.push("value AS d0, ");
            true
        }
    };
    let (table, time, touched) = match shape {
        Shape::Totals(_) => ("hourly_totals", "hour", "0"),
        Shape::Breakdown(..) => ("daily_breakdowns", "day", "uniqMerge(touched)"),
    };
    // A day's figures, named apart from the table's columns.
    inner.push(&format!(
        "toDate({time}) AS utc_day, uniqMerge(visitors) AS day_visitors, \
         {touched} AS day_touched, sum(pageviews) AS day_pageviews, \
         sum(events) AS day_events, sum(visits) AS day_visits, \
         sum(continued) AS day_continued, sum(duration) AS day_duration, \
         sum(visit_pageviews) AS day_visit_pageviews FROM {table} WHERE "
    ));
    inner.bind("site_id = ?", site);
    if let Shape::Breakdown(name, _) = shape {
        inner.bind(" AND dimension = ?", Param::Text(name.to_owned()));
    }
    match shape {
        Shape::Totals(_) => {
            inner.bind(
                " AND hour >= toDateTime(?)",
                Param::Int(start_ms.div_euclid(1000)),
            );
            inner.bind(
                " AND hour < toDateTime(?)",
                Param::Int(end_ms.div_euclid(1000)),
            );
        }
        Shape::Breakdown(..) => {
            inner.bind(
                " AND day >= toDate(toDateTime(?, 'UTC'))",
                Param::Int(start_ms.div_euclid(1000)),
            );
            inner.bind(
                " AND day < toDate(toDateTime(?, 'UTC'))",
                Param::Int(end_ms.div_euclid(1000)),
            );
        }
    }
    inner.push(if grouped {
        " GROUP BY d0, utc_day"
    } else {
        " GROUP BY utc_day"
    });
    let mut outer = Sql::new(if grouped { "SELECT d0, " } else { "SELECT " });
    outer
        .push(
            "sum(day_visitors) AS visitors, sum(day_touched) AS touched, \
             sum(day_pageviews) AS pageviews, sum(day_events) AS events, \
             sum(day_visits) AS visits, sum(day_visits) - sum(day_continued) AS bounces, \
             sum(day_duration) AS duration, sum(day_visit_pageviews) AS visit_pageviews FROM (",
        )
        .append(&inner)
        .push(")");
    if grouped {
        outer.push(" GROUP BY d0");
    }
    outer
}

/// A rollup row's sums, as the query's dimension reads them.
pub fn sums(shape: Shape, row: &serde_json::Map<String, serde_json::Value>) -> Sums {
    let number = |name: &str| {
        row.get(name)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    };
    let mut sums = Sums {
        visitors: number("visitors"),
        pageviews: number("pageviews"),
        events: number("events"),
        visits: number("visits"),
        bounces: number("bounces"),
        duration: number("duration"),
        visit_pageviews: number("visit_pageviews"),
    };
    // Per page or event: the visits that had a hit there.
    if let Shape::Breakdown(_, Level::Event) = shape {
        sums.visits = number("touched");
    }
    sums
}
