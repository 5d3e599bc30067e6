//! `POST /api/v2/query`: Plausible's Stats API v2, so that scripts and
//! connectors written for Plausible work against Mesure.
//!
//! ```json
//! {"site_id": "prefecture", "date_range": "7d", "metrics": ["visitors"],
//!  "dimensions": ["visit:source"], "filters": [["is", "visit:country", ["FR"]]],
//!  "order_by": [["visitors", "desc"]], "pagination": {"limit": 10, "offset": 0},
//!  "include": {"total_rows": true, "comparisons": {"mode": "previous_period"}}}
//! ```
//!
//! Answers `{"results": [{"dimensions": [...], "metrics": [...]}], "meta":
//! {...}, "query": {...}}`, the query as normalised. Anything unknown or
//! out of bounds is refused with a `400` that names it.

use super::ApiError;
use crate::query::fields::{Bucket, Dimension, Level, Metric};
use crate::query::filter::{Filter, MAX_VALUE, MAX_VALUES, Operator};
use crate::query::period::{Comparison, DateRange, Period};
use crate::query::{Answer, Order, Query, SMALL_COUNT};
use chrono::{DateTime, Days, Months, NaiveDate};
use chrono_tz::Tz;
use mesure_sites::goals::Goal;
use mesure_sites::{Mode, Site, SiteIndex};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// Most metrics, dimensions and filters in one query.
pub const MAX_METRICS: usize = 10;
pub const MAX_DIMENSIONS: usize = 4;
pub const MAX_FILTERS: usize = 20;
/// Rows in one answer at most (and by default).
pub const MAX_LIMIT: usize = 10_000;
const MAX_OFFSET: usize = 1_000_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub site_id: String,
    pub date_range: Value,
    pub metrics: Vec<String>,
    #[serde(default)]
    pub dimensions: Vec<String>,
    #[serde(default)]
    pub filters: Vec<Value>,
    #[serde(default)]
    pub order_by: Vec<(String, String)>,
    #[serde(default)]
    pub pagination: Option<Pagination>,
    #[serde(default)]
    pub include: Include,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pagination {
    #[serde(default)]
    pub limit: Option<Value>,
    #[serde(default)]
    pub offset: Option<Value>,
}

/// A whole number of at most `max`, or the error naming `key`.
fn whole(value: Option<&Value>, default: u64, max: u64, key: &str) -> Result<u64, ApiError> {
    match value {
        None => Ok(default),
        Some(value) => value
            .as_u64()
            .filter(|n| *n <= max)
            .ok_or_else(|| bad(format!("{key}: a whole number from 0 to {max}"))),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Include {
    #[serde(default)]
    pub total_rows: bool,
    #[serde(default)]
    pub time_labels: bool,
    #[serde(default)]
    pub comparisons: Option<Comparisons>,
    /// Plausible's imported data: there is none here.
    #[serde(default)]
    pub imports: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comparisons {
    pub mode: String,
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::BadRequest(message.into())
}

/// Validates a request into a query, today being the site's local date at
/// `now_ms`; `goals` are every site's.
pub fn parse(
    request: &Request,
    sites: &SiteIndex,
    goals: &[Goal],
    now_ms: i64,
) -> Result<Query, ApiError> {
    let (site, tz) = find_site(sites, &request.site_id)?;
    let range = match &request.date_range {
        Value::String(name) => DateRange::parse_name(name),
        Value::Array(pair) => match pair.as_slice() {
            [Value::String(a), Value::String(b)] => DateRange::parse_pair(a, b),
            _ => return Err(bad("date_range must be a name or two ISO 8601 strings")),
        },
        _ => return Err(bad("date_range must be a name or two ISO 8601 strings")),
    }
    .map_err(|e| bad(e.to_string()))?;
    let period = Period::resolve(&range, tz, now_ms).map_err(|e| bad(e.to_string()))?;

    if request.metrics.is_empty() || request.metrics.len() > MAX_METRICS {
        return Err(bad(format!("metrics: give 1 to {MAX_METRICS}")));
    }
    let mut metrics = Vec::new();
    for name in &request.metrics {
        let metric = Metric::parse(name).ok_or_else(|| bad(format!("unknown metric {name:?}")))?;
        if metrics.contains(&metric) {
            return Err(bad(format!("metric {name:?} given twice")));
        }
        metrics.push(metric);
    }
    if request.dimensions.len() > MAX_DIMENSIONS {
        return Err(bad(format!("dimensions: give at most {MAX_DIMENSIONS}")));
    }
    let mut dimensions = Vec::new();
    for name in &request.dimensions {
        let dimension =
            Dimension::parse(name).ok_or_else(|| bad(format!("unknown dimension {name:?}")))?;
        let dimension = match dimension {
            Dimension::Time => Dimension::Bucket(period.natural_bucket()),
            other => other,
        };
        if dimensions.contains(&dimension) {
            return Err(bad(format!("dimension {name:?} given twice")));
        }
        dimensions.push(dimension);
    }
    if dimensions
        .iter()
        .filter(|d| d.level() == Level::Time)
        .count()
        > 1
    {
        return Err(bad("at most one time dimension"));
    }
    let filters = parse_filters(&request.filters)?;
    let goals: Vec<Goal> = goals
        .iter()
        .filter(|g| g.site_id == site.id.as_ref())
        .cloned()
        .collect();
    check_goals(&goals, &metrics, &dimensions, &filters)?;
    check_mode(&site, &dimensions, &filters)?;
    check_shape(&metrics, &dimensions, &filters)?;

    let mut order_by = Vec::new();
    for (key, direction) in &request.order_by {
        let descending = match direction.as_str() {
            "desc" => true,
            "asc" => false,
            other => return Err(bad(format!("order_by direction {other:?}: asc or desc"))),
        };
        let order = if let Some(metric) = Metric::parse(key).filter(|m| metrics.contains(m)) {
            Order::Metric(metric)
        } else if let Some(dimension) = Dimension::parse(key)
            .map(|d| match d {
                Dimension::Time => Dimension::Bucket(period.natural_bucket()),
                other => other,
            })
            .filter(|d| dimensions.contains(d))
        {
            Order::Dimension(dimension)
        } else {
            return Err(bad(format!(
                "order_by {key:?} is not one of the query's metrics or dimensions"
            )));
        };
        order_by.push((order, descending));
    }
    if order_by.is_empty() {
        // By time, then by the first metric, descending.
        if let Some(time) = dimensions.iter().find(|d| d.level() == Level::Time) {
            order_by.push((Order::Dimension(*time), false));
        }
        order_by.push((Order::Metric(metrics[0]), true));
    }
    let pagination = request.pagination.as_ref();
    let limit = whole(
        pagination.and_then(|p| p.limit.as_ref()),
        MAX_LIMIT as u64,
        MAX_LIMIT as u64,
        "pagination.limit",
    )?;
    if limit == 0 {
        return Err(bad(format!("pagination.limit: 1 to {MAX_LIMIT}")));
    }
    let offset = whole(
        pagination.and_then(|p| p.offset.as_ref()),
        0,
        MAX_OFFSET as u64,
        "pagination.offset",
    )?;
    let comparison = match &request.include.comparisons {
        None => None,
        Some(c) => {
            let mode = Comparison::parse(&c.mode).ok_or_else(|| {
                bad(format!(
                    "include.comparisons.mode {:?}: previous_period or year_over_year",
                    c.mode
                ))
            })?;
            Some((
                mode,
                period.compared(tz, mode).map_err(|e| bad(e.to_string()))?,
            ))
        }
    };
    if request.include.time_labels && !dimensions.iter().any(|d| d.level() == Level::Time) {
        return Err(bad("include.time_labels needs a time dimension"));
    }
    Ok(Query {
        site,
        tz,
        period,
        metrics,
        dimensions,
        filters,
        order_by,
        limit: usize::try_from(limit).unwrap_or(MAX_LIMIT),
        offset: usize::try_from(offset).unwrap_or(0),
        comparison,
        goals,
        realtime: false,
        raw: false,
    })
}

/// A site by its id or one of its domains, and its time zone.
pub fn find_site(sites: &SiteIndex, id: &str) -> Result<(Arc<Site>, Tz), ApiError> {
    let site = sites
        .by_id(id)
        .or_else(|| sites.by_domain(&id.to_ascii_lowercase()))
        .cloned()
        .ok_or(ApiError::UnknownSite)?;
    let tz: Tz = site
        .time_zone
        .parse()
        .map_err(|_| ApiError::Internal(format!("site time zone {:?}", site.time_zone)))?;
    Ok((site, tz))
}

/// A query of a site's, with nothing asked yet: the realtime figures' base.
pub fn site_query(sites: &SiteIndex, id: &str) -> Result<Query, ApiError> {
    let (site, tz) = find_site(sites, id)?;
    Ok(Query {
        site,
        tz,
        // Set by the realtime figures.
        period: Period {
            start_ms: 0,
            end_ms: 0,
            first: NaiveDate::default(),
            last: NaiveDate::default(),
            instants: true,
        },
        metrics: Vec::new(),
        dimensions: Vec::new(),
        filters: Vec::new(),
        order_by: Vec::new(),
        limit: MAX_LIMIT,
        offset: 0,
        comparison: None,
        goals: Vec::new(),
        realtime: true,
        raw: false,
    })
}

fn parse_filters(values: &[Value]) -> Result<Vec<Filter>, ApiError> {
    let mut filters = Vec::new();
    for value in values {
        collect_filter(value, &mut filters)?;
    }
    if filters.len() > MAX_FILTERS {
        return Err(bad(format!("filters: at most {MAX_FILTERS}")));
    }
    Ok(filters)
}

/// `[operator, dimension, [values]]`, or `["and", [filters]]`.
fn collect_filter(value: &Value, into: &mut Vec<Filter>) -> Result<(), ApiError> {
    let invalid = || {
        bad(format!(
            "invalid filter {value}: use [operator, dimension, [values]]"
        ))
    };
    let Value::Array(parts) = value else {
        return Err(invalid());
    };
    match parts.as_slice() {
        [Value::String(and), Value::Array(inner)] if and == "and" => {
            if into.len() + inner.len() > MAX_FILTERS {
                return Err(bad(format!("filters: at most {MAX_FILTERS}")));
            }
            for filter in inner {
                collect_filter(filter, into)?;
            }
            Ok(())
        }
        [Value::String(op), Value::String(dim), Value::Array(values)] => {
            let operator = Operator::parse(op).ok_or_else(|| {
                bad(format!(
                    "unknown filter operator {op:?}: is, is_not, contains, does_not_contain"
                ))
            })?;
            let dimension = Dimension::parse(dim)
                .filter(|d| d.level() != Level::Time)
                .ok_or_else(|| bad(format!("unknown filter dimension {dim:?}")))?;
            if values.is_empty() || values.len() > MAX_VALUES {
                return Err(bad(format!(
                    "filter on {dim}: give 1 to {MAX_VALUES} values"
                )));
            }
            let values = values
                .iter()
                .map(|v| match v {
                    Value::String(s) if s.len() <= MAX_VALUE => Ok(s.clone()),
                    _ => Err(bad(format!(
                        "filter on {dim}: values are strings of at most {MAX_VALUE} bytes"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            into.push(Filter {
                operator,
                dimension,
                values,
            });
            Ok(())
        }
        [Value::String(op), ..] if op == "or" || op == "not" => Err(bad(format!(
            "filter operator {op:?} is not supported: filters combine with and"
        ))),
        _ => Err(invalid()),
    }
}

/// Goal filters name the site's goals, with `is`; a conversion rate needs a
/// goal.
fn check_goals(
    goals: &[Goal],
    metrics: &[Metric],
    dimensions: &[Dimension],
    filters: &[Filter],
) -> Result<(), ApiError> {
    for filter in filters.iter().filter(|f| f.dimension == Dimension::Goal) {
        if filter.operator != Operator::Is {
            return Err(bad("event:goal is filtered with is only"));
        }
        if let Some(unknown) = filter
            .values
            .iter()
            .find(|v| !goals.iter().any(|g| &g.name == *v))
        {
            return Err(bad(format!("unknown goal {unknown:?}")));
        }
    }
    let goal = dimensions.contains(&Dimension::Goal)
        || filters.iter().any(|f| f.dimension == Dimension::Goal);
    if metrics.contains(&Metric::ConversionRate) && !goal {
        return Err(bad(
            "conversion_rate needs an event:goal dimension or filter",
        ));
    }
    Ok(())
}

/// Campaign fields are kept for consent-mode sites only.
fn check_mode(site: &Site, dimensions: &[Dimension], filters: &[Filter]) -> Result<(), ApiError> {
    if site.mode == Mode::Exempt {
        let campaign = dimensions
            .iter()
            .chain(filters.iter().map(|f| &f.dimension))
            .find(|d| d.is_campaign());
        if let Some(dimension) = campaign {
            return Err(bad(format!(
                "{} is kept for consent-mode sites only",
                dimension.name()
            )));
        }
    }
    Ok(())
}

/// Combinations that have no meaning, or that the tables cannot answer.
fn check_shape(
    metrics: &[Metric],
    dimensions: &[Dimension],
    filters: &[Filter],
) -> Result<(), ApiError> {
    let event_dimension = dimensions.iter().find(|d| d.level() == Level::Event);
    let visit_only = dimensions
        .iter()
        .chain(filters.iter().map(|f| &f.dimension))
        .any(|d| d.level() == Level::VisitOnly);
    if let (Some(dimension), Some(metric)) =
        (event_dimension, metrics.iter().find(|m| m.is_visit_level()))
    {
        return Err(bad(format!(
            "{} is a property of whole visits: it cannot be broken down by {}",
            metric.name(),
            dimension.name()
        )));
    }
    let per_visit = visit_only
        || (event_dimension.is_none()
            && metrics
                .iter()
                .any(|m| m.is_visit_level() || *m == Metric::Visits));
    if per_visit
        && let Some(dimension) = dimensions
            .iter()
            .find(|d| d.level() != Level::Time && d.visit_sql().is_none())
    {
        return Err(bad(format!(
            "visits cannot be broken down by {}",
            dimension.name()
        )));
    }
    if metrics.contains(&Metric::Percentage) && dimensions.is_empty() {
        return Err(bad("percentage needs a dimension"));
    }
    Ok(())
}

/// Every bucket label the period holds, in order.
pub fn time_labels(bucket: Bucket, period: &Period, tz: Tz) -> Vec<String> {
    let mut labels = Vec::new();
    match bucket {
        Bucket::Hour => {
            let mut at = period.start_ms - period.start_ms.rem_euclid(3_600_000);
            while at < period.end_ms && labels.len() < 20_000 {
                let local = DateTime::from_timestamp_millis(at)
                    .unwrap_or_default()
                    .with_timezone(&tz);
                let label = local.format("%Y-%m-%dT%H:00:00").to_string();
                if labels.last() != Some(&label) {
                    labels.push(label);
                }
                at += 3_600_000;
            }
        }
        Bucket::Day | Bucket::Week | Bucket::Month => {
            let mut day = bucket.start(period.first);
            while day <= period.last && labels.len() < 20_000 {
                labels.push(day.to_string());
                day = match bucket {
                    Bucket::Week => day + Days::new(7),
                    Bucket::Month => day + Months::new(1),
                    _ => day + Days::new(1),
                };
            }
        }
    }
    labels
}

fn number(value: Option<f64>) -> Value {
    match value {
        None => Value::Null,
        Some(v) if v.fract() == 0.0 && v.abs() < 9e15 => json!(v as i64),
        Some(v) => json!(v),
    }
}

/// The answer in Plausible's shape, with the query as normalised.
pub fn respond(request: &Request, query: &Query, answer: &Answer) -> Value {
    let results: Vec<Value> = answer
        .rows
        .iter()
        .map(|row| {
            let mut out = json!({
                "dimensions": row.dimensions,
                "metrics": row.metrics.iter().map(|v| number(*v)).collect::<Vec<_>>(),
            });
            if let Some((values, change)) = &row.comparison {
                out["comparison"] = json!({
                    "dimensions": row.dimensions,
                    "metrics": values.iter().map(|v| number(*v)).collect::<Vec<_>>(),
                    "change": change.iter().map(|v| number(*v)).collect::<Vec<_>>(),
                });
            }
            out
        })
        .collect();
    let mut meta = json!({"source": answer.source});
    if request.include.total_rows {
        meta["total_rows"] = json!(answer.total_rows);
    }
    if query.site.mode == Mode::Exempt && answer.hidden_rows > 0 {
        meta["small_counts_hidden"] = json!(answer.hidden_rows);
        meta["small_count_threshold"] = json!(SMALL_COUNT);
    }
    if request.include.imports {
        meta["imports_included"] = json!(false);
    }
    if request.include.time_labels
        && let Some(Dimension::Bucket(bucket)) =
            query.dimensions.iter().find(|d| d.level() == Level::Time)
    {
        meta["time_labels"] = json!(time_labels(*bucket, &query.period, query.tz));
    }
    let filters: Vec<Value> = query
        .filters
        .iter()
        .map(|f| json!([f.operator.name(), f.dimension.name(), f.values]))
        .collect();
    let order_by: Vec<Value> = query
        .order_by
        .iter()
        .map(|(key, descending)| {
            let name = match key {
                Order::Metric(m) => m.name(),
                Order::Dimension(d) => d.name(),
            };
            json!([name, if *descending { "desc" } else { "asc" }])
        })
        .collect();
    let mut normalised = json!({
        "site_id": query.site.id.as_ref(),
        "metrics": query.metrics.iter().map(|m| m.name()).collect::<Vec<_>>(),
        "date_range": query.period.labels(query.tz),
        "dimensions": query.dimensions.iter().map(|d| d.name()).collect::<Vec<_>>(),
        "filters": filters,
        "order_by": order_by,
        "pagination": {"limit": query.limit, "offset": query.offset},
    });
    if let Some((mode, period)) = &query.comparison {
        normalised["include"] = json!({"comparisons": {
            "mode": mode.name(),
            "date_range": period.labels(query.tz),
        }});
    }
    json!({"results": results, "meta": meta, "query": normalised})
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesure_sites::{Site, SiteRow};

    fn sites() -> SiteIndex {
        let mut consent = SiteRow::new("ville", &["ville.fr"]);
        consent.mode = Mode::Consent;
        SiteIndex::new(
            [SiteRow::new("prefecture", &["prefecture.gouv.fr"]), consent]
                .iter()
                .map(|r| Site::from_row(r).expect("site")),
        )
    }

    fn request(body: Value) -> Result<Query, String> {
        let request: Request = serde_json::from_value(body).map_err(|e| e.to_string())?;
        let goals = [Goal {
            site_id: "prefecture".into(),
            name: "Inscription".into(),
            target: mesure_sites::goals::Target::Page("/inscription".into()),
        }];
        parse(&request, &sites(), &goals, 1_796_000_000_000).map_err(|e| e.to_string())
    }

    #[test]
    fn a_plausible_query_is_understood() {
        let query = request(json!({
            "site_id": "prefecture.gouv.fr", "date_range": "7d",
            "metrics": ["visitors", "pageviews", "bounce_rate"],
            "dimensions": ["visit:country", "time"],
            "filters": [["is_not", "visit:country", [""]], ["and", [["contains", "event:page", ["/a"]]]]],
            "order_by": [["visitors", "desc"]],
            "pagination": {"limit": 3, "offset": 1},
            "include": {"total_rows": true, "comparisons": {"mode": "previous_period"}}
        }))
        .expect("valid");
        assert_eq!(query.site.id.as_ref(), "prefecture");
        assert_eq!(
            query.dimensions,
            [Dimension::Country, Dimension::Bucket(Bucket::Day)]
        );
        assert_eq!(query.filters.len(), 2);
        assert_eq!((query.limit, query.offset), (3, 1));
        assert!(query.comparison.is_some());
    }

    #[test]
    fn every_mistake_is_named() {
        let base = || json!({"site_id": "prefecture", "date_range": "7d", "metrics": ["visitors"]});
        let check = |edit: &dyn Fn(&mut Value), expected: &str| {
            let mut body = base();
            edit(&mut body);
            let error = request(body).expect_err("refused");
            assert!(error.contains(expected), "{error} lacks {expected}");
        };
        check(&|b| b["metrics"] = json!(["visitorz"]), "visitorz");
        check(&|b| b["metrics"] = json!([]), "metrics");
        check(
            &|b| b["dimensions"] = json!(["event:props:x"]),
            "event:props:x",
        );
        check(&|b| b["date_range"] = json!("forever"), "forever");
        check(&|b| b["date_range"] = json!(["2026-01-01", "nope"]), "nope");
        check(&|b| b["date_range"] = json!(7), "date_range");
        check(&|b| b["site_id"] = json!("inconnu.fr"), "site");
        check(
            &|b| b["filters"] = json!([["matches", "event:page", ["x"]]]),
            "matches",
        );
        check(
            &|b| b["filters"] = json!([["is", "event:pages", ["x"]]]),
            "event:pages",
        );
        check(
            &|b| b["filters"] = json!([["is", "time:day", ["x"]]]),
            "time:day",
        );
        check(
            &|b| b["filters"] = json!([["is", "event:page", [3]]]),
            "strings",
        );
        check(&|b| b["filters"] = json!([["or", []]]), "or");
        check(&|b| b["filters"] = json!(["is"]), "invalid filter");
        check(
            &|b| b["order_by"] = json!([["pageviews", "desc"]]),
            "pageviews",
        );
        check(&|b| b["order_by"] = json!([["visitors", "up"]]), "up");
        check(&|b| b["pagination"] = json!({"limit": 0}), "limit");
        check(&|b| b["pagination"] = json!({"limit": 1e300}), "limit");
        check(&|b| b["pagination"] = json!({"offset": -1}), "offset");
        check(
            &|b| b["include"] = json!({"comparisons": {"mode": "x"}}),
            "mode",
        );
        check(&|b| b["unknown"] = json!(1), "unknown");
        check(
            &|b| {
                b["metrics"] = json!(["bounce_rate"]);
                b["dimensions"] = json!(["event:page"]);
            },
            "whole visits",
        );
        check(&|b| b["metrics"] = json!(["percentage"]), "percentage");
        check(
            &|b| b["dimensions"] = json!(["visit:utm_source"]),
            "consent-mode",
        );
        check(
            &|b| {
                b["metrics"] = json!(["visits"]);
                b["dimensions"] = json!(["visit:browser_version"]);
            },
            "visit:browser_version",
        );
        check(
            &|b| b["dimensions"] = json!(["time:day", "time:hour"]),
            "time dimension",
        );
        check(
            &|b| b["metrics"] = json!(["conversion_rate"]),
            "conversion_rate",
        );
        check(
            &|b| b["filters"] = json!([["is", "event:goal", ["Nope"]]]),
            "Nope",
        );
        check(
            &|b| b["filters"] = json!([["contains", "event:goal", ["Insc"]]]),
            "is only",
        );
        check(
            &|b| b["include"] = json!({"time_labels": true}),
            "time dimension",
        );
    }

    #[test]
    fn time_labels_fill_the_period() {
        let tz = chrono_tz::Europe::Paris;
        let day = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("date");
        let period = Period::days(tz, day("2026-10-25"), day("2026-10-25")).expect("period");
        // The day clocks go back: 25 hours, two of them labelled 02:00.
        let hours = time_labels(Bucket::Hour, &period, tz);
        assert_eq!(hours.len(), 24);
        assert_eq!(hours[0], "2026-10-25T00:00:00");
        let period = Period::days(tz, day("2026-11-25"), day("2026-12-08")).expect("period");
        assert_eq!(
            time_labels(Bucket::Week, &period, tz),
            ["2026-11-23", "2026-11-30", "2026-12-07"]
        );
        assert_eq!(
            time_labels(Bucket::Month, &period, tz),
            ["2026-11-01", "2026-12-01"]
        );
        assert_eq!(time_labels(Bucket::Day, &period, tz).len(), 14);
    }
}
