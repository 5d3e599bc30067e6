//! The hits side: what is counted per hit, from `events`: visitors, page
//! views, events, and the visits that had a hit on a page or an event.

use super::fields::{Dimension, Level, VISITS};
use super::period::Period;
use super::sql::{Param, Sql};
use super::{Query, instant, per_day, select_dimensions};

const DAY_MS: i64 = 86_400_000;

/// Per dimension values: `d0, d1, ...`, then `visitors`, `pageviews`,
/// `events`, `visits`. Visitors are counted per UTC day, then summed.
pub fn sql(query: &Query, period: &Period) -> Sql {
    let mut inner = select_dimensions(query, "ts", Dimension::event_sql);
    inner.push(
        "toDate(ts) AS utc_day, uniq(visitor_id) AS visitors, \
         countIf(kind = 'pageview') AS pageviews, count() AS events, \
         uniq(session_id) AS visits FROM events WHERE ",
    );
    inner.bind("site_id = ?", Param::Text(query.site.id.to_string()));
    instant(
        &mut inner,
        " AND ts >= fromUnixTimestamp64Milli(?)",
        period.start_ms,
    );
    instant(
        &mut inner,
        " AND ts < fromUnixTimestamp64Milli(?)",
        period.end_ms,
    );
    // A breakdown of pages counts page views; of events, their kind.
    for dimension in &query.dimensions {
        let kind = match dimension {
            Dimension::Page => "pageview",
            Dimension::EventName => "custom",
            Dimension::OutboundLink => "outlink",
            Dimension::FileDownload => "download",
            _ => continue,
        };
        inner.push(&format!(" AND kind = '{kind}'"));
    }
    for filter in &query.filters {
        inner.push(" AND ");
        match query.hit_condition(filter) {
            Some(condition) => {
                inner.append(&condition);
            }
            // Entry and exit pages: the hits of the visits that match.
            None => {
                let column = filter.dimension.visit_sql().unwrap_or("''");
                inner.push("session_id IN (SELECT session_id FROM (");
                visits_between(&mut inner, query, period.start_ms - DAY_MS, period.end_ms);
                inner.push(") WHERE ");
                inner.append(&filter.condition(column));
                inner.push(")");
            }
        }
    }
    let outer = per_day(
        query,
        inner,
        "sum(visitors) AS visitors, sum(pageviews) AS pageviews, sum(events) AS events, \
         sum(visits) AS visits",
    );
    debug_assert!(
        query
            .dimensions
            .iter()
            .all(|d| d.event_sql().is_some() || d.level() == Level::Time || *d == Dimension::Goal)
    );
    outer
}

/// [`VISITS`] for the visits started in `[start_ms, end_ms)`.
pub fn visits_between(sql: &mut Sql, query: &Query, start_ms: i64, end_ms: i64) {
    let mut parts = VISITS.split('?');
    sql.push(parts.next().unwrap_or_default());
    for (param, rest) in [
        Param::Text(query.site.id.to_string()),
        Param::Int(start_ms.div_euclid(1000)),
        Param::Int(end_ms.div_euclid(1000)),
    ]
    .into_iter()
    .zip(parts)
    {
        sql.bind(&format!("?{rest}"), param);
    }
}
