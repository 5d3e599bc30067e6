//! Rollups: what the materialized views keep per site and UTC hour
//! (`hourly_totals`) and per site, UTC day, dimension and value
//! (`daily_breakdowns`). Visitor ids live one UTC day, so a day's unique
//! visitors are its states merged and a range's are the days' sum: exact,
//! however long the range.
//!
//! Finished days are also sealed (see [`crate::seal`]): counted once more
//! into plain numbers, whole and cut at the site's local midnight.
//!
//! A query without filters reads its sealed days first: whole UTC days
//! inside its range, the local parts of those at its edges (a site's local
//! day starts and ends inside UTC days) or split by its time buckets. What
//! is not sealed (today, a day just over) comes from the rollups: the hours
//! of its range for totals or a time series; for a breakdown, the whole UTC
//! days, and the raw events of the part days at its edges. Anything else
//! reads raw events.

use super::fields::{Bucket, Dimension, Level, Metric};
use super::period::{Period, local_date, midnight_ms};
use super::sql::{Param, Sql};
use super::{Query, Sums};
use crate::seal;
use chrono::NaiveDate;
use chrono_tz::Tz;
use std::collections::BTreeMap;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// Up to this many part days, each is looked up on its own in the table's
/// order; beyond (a time series split by its buckets), one range.
const PRECISE_PARTS: usize = 8;

/// A site's sealed UTC days, each with the version to read, and where its
/// hits begin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sealed {
    pub days: BTreeMap<NaiveDate, u64>,
    /// The start of the UTC day of the site's first hit: nothing before it
    /// is read (a range reaching back before the site was measured).
    pub since_ms: Option<i64>,
}

impl Sealed {
    /// The UTC days from `first` to `last` sealed for the query's site,
    /// with its time zone and goals as they are now: one statement for a
    /// whole query (see [`super::Reader::sealed`]).
    pub async fn of(
        client: &clickhouse::Client,
        query: &Query,
        (first, last): (NaiveDate, NaiveDate),
    ) -> Result<Sealed, clickhouse::error::Error> {
        let site = Param::Text(query.site.id.to_string());
        let mut sql = Sql::new(
            "SELECT toString(day) AS date, max(version) AS latest, \
             argMax(basis, version) AS sealed_basis FROM sealed_days WHERE ",
        );
        sql.bind("site_id = ?", site.clone())
            .bind(" AND day >= toDate(?)", Param::Text(first.to_string()))
            .bind(
                " AND day <= toDate(?) GROUP BY date",
                Param::Text(last.to_string()),
            )
            // The first hit's day, in the same statement.
            .bind(
                " UNION ALL SELECT 'since' AS date, \
                 toUInt64(toUnixTimestamp(toStartOfDay(min(hour), 'UTC'))) AS latest, \
                 '' AS sealed_basis FROM hourly_totals WHERE site_id = ? HAVING count() > 0",
                site,
            );
        let basis = seal::basis(&query.site, &query.goals);
        let rows = sql.rows(client).await?;
        let text = |row: &serde_json::Map<String, serde_json::Value>, name: &str| {
            row.get(name).and_then(|v| v.as_str()).map(str::to_owned)
        };
        let since_ms = rows
            .iter()
            .find(|row| text(row, "date").as_deref() == Some("since"))
            .and_then(|row| row.get("latest")?.as_i64())
            .map(|seconds| seconds * 1000);
        let days = rows
            .iter()
            .filter(|row| text(row, "sealed_basis").as_deref() == Some(basis.as_str()))
            .filter_map(|row| {
                let day = text(row, "date")?.parse().ok()?;
                Some((day, row.get("latest")?.as_u64()?))
            })
            .collect();
        Ok(Sealed { days, since_ms })
    }
}

/// How a period is read: sealed days (whole, or by their local parts) and
/// the rest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    whole: Vec<(NaiveDate, u64)>,
    parts: Vec<(NaiveDate, u64)>,
    /// What the sealed days do not cover, in order.
    pub rest: Vec<Period>,
}

impl Plan {
    pub fn uses_sealed(&self) -> bool {
        !self.whole.is_empty() || !self.parts.is_empty()
    }
}

/// Which sealed days answer `period`, and what is left for the rollups and
/// raw events.
pub fn plan(shape: Shape, period: &Period, tz: Tz, sealed: &Sealed) -> Plan {
    let mut plan = sealed_days(shape, period, tz, sealed);
    // Before the first hit there is nothing to read.
    if let Some(since) = sealed.since_ms {
        plan.rest = plan
            .rest
            .into_iter()
            .filter(|rest| rest.end_ms > since)
            .map(|rest| {
                if rest.start_ms < since {
                    rest.slice(since, rest.end_ms)
                } else {
                    rest
                }
            })
            .collect();
    }
    plan
}

fn sealed_days(shape: Shape, period: &Period, tz: Tz, sealed: &Sealed) -> Plan {
    let mut plan = Plan::default();
    // Hours are finer than any sealed part.
    if shape == Shape::Totals(Some(Bucket::Hour)) || sealed.days.is_empty() {
        plan.rest.push(*period);
        return plan;
    }
    let bucket = match shape {
        Shape::Totals(bucket) => bucket,
        Shape::Breakdown(..) => None,
    };
    let mut cursor = period.start_ms;
    for (&day, &version) in sealed
        .days
        .range(seal::utc_day(period.start_ms)..=seal::utc_day(period.end_ms - 1))
    {
        let start = midnight_ms(chrono_tz::UTC, day);
        let end = start + DAY_MS;
        let inside = period.start_ms <= start && end <= period.end_ms;
        // A range of local days takes the parts of the days at its edges;
        // one of instants, only the days wholly inside it.
        if !inside && period.instants {
            continue;
        }
        let split = bucket.is_some_and(|b| {
            b.date_label(local_date(tz, start)) != b.date_label(local_date(tz, end - 1))
        });
        if inside && !split {
            plan.whole.push((day, version));
        } else {
            plan.parts.push((day, version));
        }
        let (from, to) = (start.max(period.start_ms), end.min(period.end_ms));
        if cursor < from {
            plan.rest.push(period.slice(cursor, from));
        }
        cursor = to;
    }
    if cursor < period.end_ms {
        plan.rest.push(period.slice(cursor, period.end_ms));
    }
    if plan.rest.len() == 1 && !plan.uses_sealed() {
        plan.rest = vec![*period];
    }
    plan
}

/// The sealed days' sums per dimension values: `d0` (when any), then the
/// same columns as [`sql`].
pub fn sealed_sql(query: &Query, shape: Shape, plan: &Plan, period: &Period) -> Option<Sql> {
    if !plan.uses_sealed() {
        return None;
    }
    let days = |list: &[(NaiveDate, u64)]| -> Vec<String> {
        list.iter().map(|(day, _)| day.to_string()).collect()
    };
    let all: Vec<(NaiveDate, u64)> = plan.whole.iter().chain(&plan.parts).copied().collect();
    let mut sql = Sql::new("SELECT ");
    let (dimension, grouped) = match shape {
        Shape::Totals(None) => ("total", false),
        Shape::Totals(Some(bucket)) => {
            sql.bind(
                &bucket.date_sql("if(part = toDate(0), toDate(toDateTime(day, 'UTC'), ?), part)"),
                Param::Text(query.tz.name().to_owned()),
            );
            sql.push(" AS d0, ");
            ("total", true)
        }
        Shape::Breakdown(name, _) => {
            sql.push("value AS d0, ");
            (name, true)
        }
    };
    let date = |day: NaiveDate| Param::Text(day.to_string());
    sql.push(
        "sum(visitors) AS visitors, sum(touched) AS touched, sum(pageviews) AS pageviews, \
         sum(events) AS events, sum(visits) AS visits, \
         sum(sealed_figures.visits) - sum(sealed_figures.continued) AS bounces, \
         sum(duration) AS duration, sum(visit_pageviews) AS visit_pageviews \
         FROM sealed_figures WHERE ",
    )
    .bind("site_id = ?", Param::Text(query.site.id.to_string()))
    .bind(" AND dimension = ?", Param::Text(dimension.to_owned()))
    // Each day at the version listed for it (a hash lookup per row).
    .bind(
        " AND version = transform(day, CAST(? AS Array(Date)), ",
        Param::Texts(days(&all)),
    )
    .bind(
        "CAST(? AS Array(UInt64)), toUInt64(0))",
        Param::Texts(all.iter().map(|(_, v)| v.to_string()).collect()),
    );
    // Whole days, then the parts: the table is ordered by part, then day.
    match (plan.whole.iter().min(), plan.whole.iter().max()) {
        (Some((first, _)), Some((last, _))) => {
            sql.bind(" AND ((part = toDate(0) AND day >= toDate(?)", date(*first))
                .bind(" AND day <= toDate(?)", date(*last))
                .bind(
                    " AND has(CAST(? AS Array(Date)), day))",
                    Param::Texts(days(&plan.whole)),
                );
        }
        _ => {
            sql.push(" AND ((0)");
        }
    }
    if plan.parts.len() <= PRECISE_PARTS {
        // A part day's local dates are the day before, the day, or after.
        for (day, _) in &plan.parts {
            let from = (*day - chrono::Days::new(1)).max(period.first);
            let to = (*day + chrono::Days::new(1)).min(period.last);
            sql.bind(" OR (part >= toDate(?)", date(from))
                .bind(" AND part <= toDate(?)", date(to))
                .bind(" AND day = toDate(?))", date(*day));
        }
    } else {
        sql.bind(" OR (part >= toDate(?)", date(period.first))
            .bind(" AND part <= toDate(?)", date(period.last))
            .bind(
                " AND has(CAST(? AS Array(Date)), day))",
                Param::Texts(days(&plan.parts)),
            );
    }
    sql.push(")");
    if grouped {
        sql.push(" GROUP BY d0");
    }
    Some(sql)
}

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
        // Sealed days only: goals change, the views cannot know them.
        Dimension::Goal => (
            "goal",
            &[
                Metric::Visitors,
                Metric::Visits,
                Metric::Events,
                Metric::ConversionRate,
            ],
        ),
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
    let mut edges = Vec::new();
    if period.start_ms < first {
        edges.push(period.slice(period.start_ms, first));
    }
    if last < period.end_ms {
        edges.push(period.slice(last, period.end_ms));
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
