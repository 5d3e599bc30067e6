//! The visits side: what needs whole visits, from the `sessions` rollup:
//! visits, bounces, durations, their page views, entry and exit pages.

use super::fields::Dimension;
use super::hits::visits_between;
use super::period::Period;
use super::sql::{Param, Sql};
use super::{Query, instant, per_day, select_dimensions};

const DAY_MS: i64 = 86_400_000;

/// Per dimension values: `d0, d1, ...`, then `visitors`, `visits`,
/// `pageviews`, `events`, `bounces` and `duration` (seconds) of the visits
/// started in the period.
pub fn sql(query: &Query, period: &Period) -> Sql {
    let mut inner = select_dimensions(query, "started", Dimension::visit_sql);
    inner.push(
        "toDate(started) AS utc_day, uniq(visitor_id) AS visitors, count() AS visits, \
         sum(pageviews) AS pv, sum(events) AS ev, \
         countIf(events = 1) AS bounces, \
         sum(dateDiff('second', started, last_seen)) AS duration FROM (",
    );
    visits_between(&mut inner, query, period.start_ms, period.end_ms);
    inner.push(") WHERE 1");
    for filter in &query.filters {
        inner.push(" AND ");
        match filter.dimension.visit_sql() {
            Some(column) => {
                inner.append(&filter.condition(column));
            }
            // Known per hit only: the visits with a hit that matches.
            None => {
                let condition = query.hit_condition(filter).unwrap_or_else(|| Sql::new("0"));
                inner.push("session_id IN (SELECT session_id FROM events WHERE ");
                inner.bind("site_id = ?", Param::Text(query.site.id.to_string()));
                instant(
                    &mut inner,
                    " AND ts >= fromUnixTimestamp64Milli(?)",
                    period.start_ms,
                );
                // A visit ends the day it starts: its hits are in the period
                // or in the day after.
                instant(
                    &mut inner,
                    " AND ts < fromUnixTimestamp64Milli(?)",
                    period.end_ms + DAY_MS,
                );
                inner.push(" AND ");
                inner.append(&condition);
                inner.push(")");
            }
        }
    }
    per_day(
        query,
        inner,
        "sum(visitors) AS visitors, sum(visits) AS visits, sum(pv) AS pageviews, \
         sum(ev) AS events, sum(bounces) AS bounces, sum(duration) AS duration",
    )
}
