//! The query layer: every number the dashboard shows, from one validated
//! [`Query`] (a site, a period, metrics, dimensions, filters, order,
//! pagination, a comparison).
//!
//! A query reads two sides and joins them on the dimensions' values:
//! [`hits`] for what is counted per hit (visitors, page views, events, and
//! visits per page or event), [`visits`] for what needs the whole visit
//! (visits, bounce rate, duration, page views per visit, entry and exit
//! pages). Aggregates, time series and breakdowns are the same query with
//! no dimension, a time dimension, or others.
//!
//! Definitions, the same everywhere:
//! - a visitor id lives one UTC day, so visitors over a range are the sum of
//!   each UTC day's unique visitors (a person who comes back on another day
//!   counts again; nobody can tell it is the same person);
//! - a visit belongs to the period it started in.

pub mod fields;
pub mod filter;
mod hits;
pub mod period;
pub mod reader;
pub mod realtime;
pub mod rollup;
pub mod sql;
mod visits;

use chrono_tz::Tz;
use clickhouse::Client;
use fields::{Dimension, Level, Metric};
use filter::Filter;
use mesure_sites::goals::{Goal, Target, pattern_regex};
use mesure_sites::{Mode, Site};
use period::{Comparison, Period};
pub use reader::Reader;
use rollup::Sealed;
use std::collections::HashMap;
use std::sync::Arc;

/// Counts at or above which a breakdown row of an exempt site is shown.
pub const SMALL_COUNT: u64 = 5;

/// A validated query.
#[derive(Debug, Clone)]
pub struct Query {
    pub site: Arc<Site>,
    pub tz: Tz,
    pub period: Period,
    pub metrics: Vec<Metric>,
    /// `time` already resolved to a bucket.
    pub dimensions: Vec<Dimension>,
    pub filters: Vec<Filter>,
    pub order_by: Vec<(Order, bool)>,
    pub limit: usize,
    pub offset: usize,
    pub comparison: Option<(Comparison, Period)>,
    /// The site's goals.
    pub goals: Vec<Goal>,
    /// Realtime figures: an exempt site's are rounded (see [`realtime`])
    /// rather than hidden.
    pub realtime: bool,
    /// Read raw events only, never the rollups (to check they agree).
    pub raw: bool,
}

/// What rows are sorted by: a metric or a dimension of the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Metric(Metric),
    Dimension(Dimension),
}

/// The raw sums a row's metrics are derived from.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sums {
    pub visitors: u64,
    pub pageviews: u64,
    pub events: u64,
    /// Visits: started in the period, or with a hit on the row's page or event.
    pub visits: u64,
    pub bounces: u64,
    pub duration: u64,
    /// Page views of the visits counted in `visits`.
    pub visit_pageviews: u64,
}

/// A metric's value; `None` when hidden (a small count) or undefined.
pub type Value = Option<f64>;

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub dimensions: Vec<String>,
    pub metrics: Vec<Value>,
    /// The same row in the comparison period, and the change in percent
    /// (in points for the bounce rate).
    pub comparison: Option<(Vec<Value>, Vec<Value>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub rows: Vec<Row>,
    /// Rows before pagination.
    pub total_rows: usize,
    /// Rows whose counts were hidden as small.
    pub hidden_rows: usize,
    /// Which tables answered.
    pub source: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
    #[error("export: {0}")]
    Export(String),
    #[error("a query task stopped: {0}")]
    Task(String),
}

/// A side's rows: the dimensions' values, then the sums.
type Sided = HashMap<Vec<String>, Sums>;

impl Query {
    fn has_level(&self, level: Level) -> bool {
        self.dimensions.iter().any(|d| d.level() == level)
            || self.filters.iter().any(|f| f.dimension.level() == level)
    }

    /// Entry or exit pages: everything comes from whole visits.
    fn visits_only(&self) -> bool {
        self.has_level(Level::VisitOnly)
    }

    fn event_dimensions(&self) -> bool {
        self.dimensions.iter().any(|d| d.level() == Level::Event)
    }

    fn needs_visits_side(&self) -> bool {
        self.visits_only()
            || (!self.event_dimensions()
                && self
                    .metrics
                    .iter()
                    .any(|m| m.is_visit_level() || *m == Metric::Visits))
    }

    fn needs_hits_side(&self) -> bool {
        !self.visits_only()
            && self.metrics.iter().any(|m| {
                matches!(
                    m,
                    Metric::Visitors | Metric::Pageviews | Metric::Events | Metric::Percentage
                ) || *m == Metric::ConversionRate
                    || (*m == Metric::Visits && self.event_dimensions())
            })
    }

    /// `event:goal` on a hit: one row for each goal the hit reached, none
    /// when it reached none.
    fn goal_sql(&self) -> sql::Sql {
        let mut sql = sql::Sql::new("arrayJoin(arrayFilter(g -> g != '', CAST([");
        for (i, goal) in self.goals.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("if(");
            sql.append(&goal_condition(goal));
            sql.bind(", ?, '')", sql::Param::Text(goal.name.clone()));
        }
        sql.push("], 'Array(String)')))");
        sql
    }

    /// A filter's condition on a hit of `events`; `None` for what only whole
    /// visits know (entry and exit pages).
    fn hit_condition(&self, filter: &Filter) -> Option<sql::Sql> {
        if filter.dimension == Dimension::Goal {
            let mut sql = sql::Sql::new("(0");
            for goal in self
                .goals
                .iter()
                .filter(|g| filter.values.contains(&g.name))
            {
                sql.push(" OR ").append(&goal_condition(goal));
            }
            sql.push(")");
            return Some(sql);
        }
        filter
            .dimension
            .event_sql()
            .map(|column| filter.condition(column))
    }

    /// Whether the small-count rule applies: an exempt site's breakdown.
    fn hides_small_counts(&self) -> bool {
        self.site.mode == Mode::Exempt
            && !self.realtime
            && self.dimensions.iter().any(|d| d.level() != Level::Time)
    }
}

/// The condition that a hit of `events` reached `goal`.
pub fn goal_condition(goal: &Goal) -> sql::Sql {
    let mut sql = sql::Sql::default();
    match &goal.target {
        Target::Page(pattern) => sql.bind(
            "(kind = 'pageview' AND match(path, ?))",
            sql::Param::Text(pattern_regex(pattern)),
        ),
        Target::Event(name) => sql.bind(
            "(kind = 'custom' AND name = ?)",
            sql::Param::Text(name.clone()),
        ),
    };
    sql
}

/// Runs a query and its comparison.
pub async fn run(reader: &Reader, query: &Query) -> Result<Answer, QueryError> {
    let mut periods = vec![&query.period];
    periods.extend(query.comparison.as_ref().map(|(_, p)| p));
    let sealed = if query.raw {
        Sealed::default()
    } else {
        reader.sealed(query, &periods).await?
    };
    let mut answer = run_period(reader, query, &query.period, &sealed).await?;
    if let Some((_, period)) = &query.comparison {
        let previous = run_period(reader, query, period, &sealed).await?;
        let by_dims: HashMap<&[String], &Row> = previous
            .rows
            .iter()
            .map(|row| (row.dimensions.as_slice(), row))
            .collect();
        let timed = query.dimensions.iter().any(|d| d.level() == Level::Time);
        for (i, row) in answer.rows.iter_mut().enumerate() {
            // Time buckets differ between periods: matched by position.
            let before = if timed {
                previous.rows.get(i)
            } else {
                by_dims.get(row.dimensions.as_slice()).copied()
            };
            let values = match before {
                Some(before) => before.metrics.clone(),
                None => query
                    .metrics
                    .iter()
                    .map(|m| m.is_count().then_some(0.0))
                    .collect(),
            };
            let change = query
                .metrics
                .iter()
                .zip(row.metrics.iter().zip(&values))
                .map(|(metric, (now, then))| change(*metric, *now, *then))
                .collect();
            row.comparison = Some((values, change));
        }
    }
    Ok(answer)
}

pub(crate) fn change(metric: Metric, now: Value, then: Value) -> Value {
    let (now, then) = (now?, then?);
    if metric == Metric::BounceRate {
        return Some(now - then);
    }
    if then == 0.0 {
        return (now == 0.0).then_some(0.0);
    }
    Some(((now - then) / then * 100.0).round())
}

impl std::ops::AddAssign for Sums {
    fn add_assign(&mut self, other: Sums) {
        self.visitors += other.visitors;
        self.pageviews += other.pageviews;
        self.events += other.events;
        self.visits += other.visits;
        self.bounces += other.bounces;
        self.duration += other.duration;
        self.visit_pageviews += other.visit_pageviews;
    }
}

fn dimensions_of(row: &serde_json::Map<String, serde_json::Value>, width: usize) -> Vec<String> {
    (0..width)
        .map(|i| text(row.get(&format!("d{i}"))))
        .collect()
}

/// A query's sums over a period, by dimension values, and what answered:
/// sealed days and the rollups for what they hold, raw events for the rest.
async fn sums(
    reader: &Reader,
    query: &Query,
    period: &Period,
    sealed: &Sealed,
) -> Result<(Sided, &'static str), QueryError> {
    let Some(shape) = rollup::shape(query) else {
        return Ok((raw_sums(&reader.client, query, period).await?, "events"));
    };
    let width = query.dimensions.len();
    let mut rows: Sided = HashMap::new();
    let mut add = |row: &serde_json::Map<String, serde_json::Value>| {
        *rows.entry(dimensions_of(row, width)).or_default() += rollup::sums(shape, row);
    };
    let plan = rollup::plan(shape, period, query.tz, sealed);
    let mut read = Read::default();
    if let Some(sql) = rollup::sealed_sql(query, shape, &plan, period) {
        reader.sealed_rows(&sql).await?.iter().for_each(&mut add);
        read.sealed = true;
    }
    let mut raw = Vec::new();
    for rest in &plan.rest {
        // Goals are sealed or counted from raw events: no view keeps them.
        let states = !matches!(shape, rollup::Shape::Breakdown("goal", _));
        match rollup::split(shape, rest).filter(|_| states) {
            Some((whole, edges)) => {
                rollup::sql(query, shape, whole)
                    .rows(&reader.client)
                    .await?
                    .iter()
                    .for_each(&mut add);
                read.rollups = true;
                raw.extend(edges);
            }
            None => raw.push(*rest),
        }
    }
    for edge in &raw {
        for (dims, sums) in raw_sums(&reader.client, query, edge).await? {
            *rows.entry(dims).or_default() += sums;
        }
        read.events = true;
    }
    Ok((rows, read.name()))
}

/// Which tables a query read.
#[derive(Debug, Default, Clone, Copy)]
struct Read {
    sealed: bool,
    rollups: bool,
    events: bool,
}

impl Read {
    fn name(self) -> &'static str {
        match (self.sealed, self.rollups, self.events) {
            (true, false, false) => "sealed",
            (true, true, false) => "sealed+rollups",
            (true, false, true) => "sealed+events",
            (true, true, true) => "sealed+rollups+events",
            (false, true, false) => "rollups",
            (false, true, true) => "rollups+events",
            (false, false, _) => "events",
        }
    }
}

/// A query's sums over a period from raw events (and the `sessions` rollup
/// for whole visits).
async fn raw_sums(client: &Client, query: &Query, period: &Period) -> Result<Sided, QueryError> {
    let hits = if query.needs_hits_side() {
        hits::sql(query, period).rows(client).await?
    } else {
        Vec::new()
    };
    let visits = if query.needs_visits_side() {
        visits::sql(query, period).rows(client).await?
    } else {
        Vec::new()
    };
    let width = query.dimensions.len();
    let mut rows: Sided = HashMap::new();
    for (side, visits_side) in [(hits, false), (visits, true)] {
        for object in side {
            let sums = rows.entry(dimensions_of(&object, width)).or_default();
            let number = |name: &str| object.get(name).and_then(serde_json::Value::as_u64);
            if visits_side {
                if query.visits_only() {
                    sums.visitors = number("visitors").unwrap_or(0);
                    sums.pageviews = number("pageviews").unwrap_or(0);
                    sums.events = number("events").unwrap_or(0);
                }
                sums.visits = number("visits").unwrap_or(0);
                sums.bounces = number("bounces").unwrap_or(0);
                sums.duration = number("duration").unwrap_or(0);
                sums.visit_pageviews = number("pageviews").unwrap_or(0);
            } else {
                sums.visitors = number("visitors").unwrap_or(0);
                sums.pageviews = number("pageviews").unwrap_or(0);
                sums.events = number("events").unwrap_or(0);
                if query.event_dimensions() {
                    sums.visits = number("visits").unwrap_or(0);
                }
            }
        }
    }
    Ok(rows)
}

async fn run_period(
    reader: &Reader,
    query: &Query,
    period: &Period,
    sealed: &Sealed,
) -> Result<Answer, QueryError> {
    let (mut rows, source) = sums(reader, query, period, sealed).await?;
    let width = query.dimensions.len();
    // The whole range, for shares: with the query's filters for
    // percentages, without its goal filters for conversion rates.
    let total = |without_goals: bool| {
        let mut total = query.clone();
        total.dimensions.clear();
        // Visitors only: what the rollups and sealed days answer.
        total.metrics = vec![Metric::Visitors];
        if without_goals {
            total.filters.retain(|f| f.dimension != Dimension::Goal);
        }
        async move {
            let (rows, _) = sums(reader, &total, period, sealed).await?;
            Ok::<u64, QueryError>(rows.values().map(|s| s.visitors).sum())
        }
    };
    let totals = Totals {
        visitors: if query.metrics.contains(&Metric::Percentage) {
            total(false).await?
        } else {
            0
        },
        converting_base: if query.metrics.contains(&Metric::ConversionRate) {
            total(true).await?
        } else {
            0
        },
    };
    if width == 0 && rows.is_empty() {
        rows.insert(Vec::new(), Sums::default());
    }
    let hide = query.hides_small_counts();
    let mut hidden_rows = 0;
    let mut out: Vec<(Sums, Row)> = rows
        .into_iter()
        .map(|(dimensions, sums)| {
            let small = hide && sums.visitors < SMALL_COUNT;
            hidden_rows += usize::from(small);
            let metrics = query
                .metrics
                .iter()
                .map(|m| {
                    if small {
                        None
                    } else {
                        value(*m, &sums, &totals)
                    }
                })
                .collect();
            (
                sums,
                Row {
                    dimensions,
                    metrics,
                    comparison: None,
                },
            )
        })
        .collect();
    sort(query, &mut out);
    let total_rows = out.len();
    let rows = out
        .into_iter()
        .skip(query.offset)
        .take(query.limit)
        .map(|(_, row)| row)
        .collect();
    Ok(Answer {
        rows,
        total_rows,
        hidden_rows,
        source,
    })
}

fn text(value: Option<&serde_json::Value>) -> String {
    match value {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// The whole range's visitors, for shares.
#[derive(Debug, Clone, Copy, Default)]
pub struct Totals {
    /// With the query's filters.
    pub visitors: u64,
    /// Without its goal filters: who could have converted.
    pub converting_base: u64,
}

/// A metric's value from a row's sums.
pub fn value(metric: Metric, sums: &Sums, totals: &Totals) -> Value {
    let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
    match metric {
        Metric::Visitors => Some(sums.visitors as f64),
        Metric::Visits => Some(sums.visits as f64),
        Metric::Pageviews => Some(sums.pageviews as f64),
        Metric::Events => Some(sums.events as f64),
        Metric::ViewsPerVisit => {
            ratio(sums.visit_pageviews, sums.visits).map(|r| (r * 100.0).round() / 100.0)
        }
        Metric::BounceRate => ratio(sums.bounces, sums.visits).map(|r| (r * 100.0).round()),
        Metric::VisitDuration => ratio(sums.duration, sums.visits).map(f64::round),
        Metric::Percentage => {
            ratio(sums.visitors, totals.visitors).map(|r| (r * 1000.0).round() / 10.0)
        }
        Metric::ConversionRate => {
            ratio(sums.visitors, totals.converting_base).map(|r| (r * 1000.0).round() / 10.0)
        }
    }
}

/// The query's order, then the dimensions ascending: the same rows always
/// come in the same order.
fn sort(query: &Query, rows: &mut [(Sums, Row)]) {
    rows.sort_by(|(_, a), (_, b)| {
        for (key, descending) in &query.order_by {
            let ordering = match key {
                Order::Metric(metric) => {
                    let i = query.metrics.iter().position(|m| m == metric);
                    let at = |row: &Row| i.and_then(|i| row.metrics[i]).unwrap_or(-1.0);
                    at(a).total_cmp(&at(b))
                }
                Order::Dimension(dimension) => {
                    let i = query.dimensions.iter().position(|d| d == dimension);
                    let at = |row: &Row| i.map(|i| row.dimensions[i].clone()).unwrap_or_default();
                    at(a).cmp(&at(b))
                }
            };
            let ordering = if *descending {
                ordering.reverse()
            } else {
                ordering
            };
            if ordering.is_ne() {
                return ordering;
            }
        }
        a.dimensions.cmp(&b.dimensions)
    });
}

/// Millisecond bounds for `ts`: `fromUnixTimestamp64Milli(?)`.
fn instant(sql: &mut sql::Sql, text: &str, ms: i64) {
    sql.bind(text, sql::Param::Int(ms));
}

/// `SELECT` and the dimensions' values as `d0, d1, ...`: a time bucket of
/// the instant column `ts`, the others from `column`.
fn select_dimensions(
    query: &Query,
    ts: &'static str,
    column: impl Fn(Dimension) -> Option<&'static str>,
) -> sql::Sql {
    let mut sql = sql::Sql::new("SELECT ");
    for (i, dimension) in query.dimensions.iter().enumerate() {
        match dimension {
            Dimension::Bucket(bucket) => {
                sql.bind(
                    &bucket.sql(ts),
                    sql::Param::Text(query.tz.name().to_owned()),
                );
            }
            Dimension::Goal => {
                sql.append(&query.goal_sql());
            }
            other => {
                sql.push(column(*other).unwrap_or("''"));
            }
        }
        sql.push(&format!(" AS d{i}, "));
    }
    sql
}

/// Groups `inner` (grouped by the dimensions and `utc_day`) by the
/// dimensions alone, summing `sums` (`sum(x) AS y, ...`): per-day counts
/// add up over the days.
fn per_day(query: &Query, mut inner: sql::Sql, sums: &str) -> sql::Sql {
    let groups: Vec<String> = (0..query.dimensions.len())
        .map(|i| format!("d{i}"))
        .collect();
    inner.push(" GROUP BY ");
    for group in &groups {
        inner.push(&format!("{group}, "));
    }
    inner.push("utc_day");
    let mut outer = sql::Sql::new("SELECT ");
    for group in &groups {
        outer.push(&format!("{group}, "));
    }
    outer.push(sums).push(" FROM (").append(&inner).push(")");
    if !groups.is_empty() {
        outer.push(&format!(" GROUP BY {}", groups.join(", ")));
    }
    outer
}
