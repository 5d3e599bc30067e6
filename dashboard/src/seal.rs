//! Sealing finished days: once a UTC day is over, its figures are counted
//! again from its raw events and kept as plain numbers in `sealed_figures`,
//! whole and cut at the site's local midnight. Visitor ids live one UTC
//! day, so a day's unique counts never change once it is over: a range of
//! sealed days adds up without merging a single uniques state, which is
//! what keeps six months of a large site fast.
//!
//! A day is sealed again when it changed: late hits (a spool delivering
//! after an outage), a visit still running at midnight, another time zone
//! or other goals for the site. The live rollups say what a day holds now
//! (`hourly_totals`: its hits, and the visits started in it, with their
//! page views and durations); `sealed_days` says what it held when sealed.
//! Any difference, and the day is sealed again. Readers use a day's figures
//! only at the version `sealed_days` lists, written after all of them; a
//! new version goes beside the old ones, so a reader that looked up the
//! old one still finds it whole, and a seal that never finished is never
//! read.

use crate::query::fields::SOURCE;
use crate::query::goal_condition;
use crate::query::period::{local_date, midnight_ms};
use crate::query::sql::{Param, Sql};
use chrono::NaiveDate;
use clickhouse::Client;
use mesure_sites::Site;
use mesure_sites::goals::Goal;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Days sealed by one statement, at most: bounds its memory.
pub const BATCH_DAYS: usize = 7;

/// How long after a UTC day ends it is sealed: visits still running at
/// midnight end by then (the salt ends them at midnight; their last hits
/// may still be on their way).
pub const SETTLE_MS: i64 = 3_600_000;

/// A breakdown kept: its name in `sealed_figures`, the value (SQL over a row
/// of `events`), and which rows have one.
type Kept = (&'static str, &'static str, &'static str);

/// The day's total, first on both sides.
const TOTAL: Kept = ("total", "''", "1");

/// Breakdowns of hits only: the same as `daily_breakdowns_hits_mv`'s.
const HIT_ONLY: &[Kept] = &[
    ("page", "path", "kind = 'pageview'"),
    ("hostname", "hostname", "1"),
    ("event", "name", "kind = 'custom'"),
    ("outbound", "name", "kind = 'outlink'"),
    ("download", "name", "kind = 'download'"),
];

/// Breakdowns of visits only, counted on the visit's hits by the day it
/// started: the same as `daily_breakdowns_visits_mv`'s.
const VISIT_ONLY: &[Kept] = &[("entry_page", "path", "hit = 1")];

/// Breakdowns kept on both sides: a visit's properties, carried by each of
/// its hits.
const BOTH: &[Kept] = &[
    ("source", SOURCE, "1"),
    ("referrer", "referrer_host", "1"),
    ("channel", "toString(channel)", "1"),
    ("country", "country_code", "1"),
    ("region", "region", "1"),
    ("city", "city", "1"),
    ("browser", "browser", "1"),
    ("browser_version", "browser_version", "1"),
    ("os", "os", "1"),
    ("os_version", "os_version", "1"),
    ("device", "toString(device)", "1"),
    ("utm_source", "utm_source", "1"),
    ("utm_medium", "utm_medium", "1"),
    ("utm_campaign", "utm_campaign", "1"),
    ("utm_content", "utm_content", "1"),
    ("utm_term", "utm_term", "1"),
];

/// Every breakdown of one side, the total first.
fn kept(visits_side: bool) -> Vec<Kept> {
    let only = if visits_side { VISIT_ONLY } else { HIT_ONLY };
    std::iter::once(TOTAL)
        .chain(only.iter().copied())
        .chain(BOTH.iter().copied())
        .collect()
}

const DAY_S: i64 = 86_400;

/// What a site's sealed figures depend on besides its hits: its time zone
/// (where days are cut) and its goals.
pub fn basis(site: &Site, goals: &[Goal]) -> String {
    let mut targets: Vec<String> = goals
        .iter()
        .filter(|g| g.site_id.as_str() == &*site.id)
        .map(|g| format!("{}\n{:?}", g.name, g.target))
        .collect();
    targets.sort();
    let digest = Sha256::digest(targets.join("\n\n").as_bytes());
    format!("{} {}", site.time_zone, hex::encode(&digest[..8]))
}

/// A day's totals as the live rollups hold them, or as they were sealed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Fingerprint {
    events: u64,
    visits: u64,
    continued: u64,
    duration: u64,
    visit_pageviews: u64,
}

impl Fingerprint {
    /// From a row whose columns are named `{prefix}events`, ...
    fn of(row: &Map<String, Value>, prefix: &str) -> Fingerprint {
        let n = |name: &str| {
            row.get(&format!("{prefix}{name}"))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        Fingerprint {
            events: n("events"),
            visits: n("visits"),
            continued: n("continued"),
            duration: n("duration"),
            visit_pageviews: n("visit_pageviews"),
        }
    }
}

fn day_of(row: &Map<String, Value>) -> Option<NaiveDate> {
    row.get("date")?.as_str()?.parse().ok()
}

fn midnight_s(day: NaiveDate) -> i64 {
    midnight_ms(chrono_tz::UTC, day) / 1000
}

/// The UTC day of an instant.
pub fn utc_day(ms: i64) -> NaiveDate {
    local_date(chrono_tz::UTC, ms)
}

/// The UTC days that can be sealed at `now_ms`: those before this one.
pub fn closed_before(now_ms: i64) -> NaiveDate {
    utc_day(now_ms - SETTLE_MS)
}

/// The days of `site` before `closed_before` that hold hits and whose sealed
/// figures are missing or out of date, newest first.
pub async fn stale_days(
    client: &Client,
    site_id: &str,
    basis: &str,
    closed_before: NaiveDate,
) -> Result<Vec<NaiveDate>, clickhouse::error::Error> {
    let site = || Param::Text(site_id.to_owned());
    let mut live = Sql::new(
        "SELECT toString(toDate(hour)) AS date, sum(events) AS events, sum(visits) AS visits, \
         sum(continued) AS continued, sum(duration) AS duration, \
         sum(visit_pageviews) AS visit_pageviews FROM hourly_totals WHERE ",
    );
    live.bind("site_id = ?", site()).bind(
        " AND hour < toDateTime(?, 'UTC') GROUP BY date",
        Param::Int(midnight_s(closed_before)),
    );
    let mut sealed = Sql::new(
        "SELECT toString(day) AS date, argMax(basis, version) AS sealed_basis, \
         argMax(events, version) AS sealed_events, \
         argMax(visits, version) AS sealed_visits, \
         argMax(continued, version) AS sealed_continued, \
         argMax(duration, version) AS sealed_duration, \
         argMax(visit_pageviews, version) AS sealed_visit_pageviews FROM sealed_days WHERE ",
    );
    sealed.bind("site_id = ? GROUP BY date", site());
    let sealed: HashMap<NaiveDate, (String, Fingerprint)> = sealed
        .rows(client)
        .await?
        .iter()
        .filter_map(|row| {
            let basis = row.get("sealed_basis")?.as_str()?.to_owned();
            Some((day_of(row)?, (basis, Fingerprint::of(row, "sealed_"))))
        })
        .collect();
    let mut stale: Vec<NaiveDate> = live
        .rows(client)
        .await?
        .iter()
        .filter_map(|row| {
            let day = day_of(row)?;
            let fresh = sealed.get(&day).is_some_and(|(sealed_basis, sums)| {
                sealed_basis == basis && *sums == Fingerprint::of(row, "")
            });
            (!fresh).then_some(day)
        })
        .collect();
    stale.sort_unstable_by(|a, b| b.cmp(a));
    Ok(stale)
}

/// `[(name, value, condition), ...]` for `arrayFilter(x -> x.3, ...)`.
fn dimension_array(sql: &mut Sql, fixed: &[Kept], goals: &[&Goal]) {
    sql.push("arrayFilter(x -> x.3, [");
    for (i, (name, value, condition)) in fixed.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push(&format!(
            "('{name}', CAST(({value}) AS String), toUInt8({condition}))"
        ));
    }
    for goal in goals {
        sql.bind(", ('goal', ?, toUInt8(", Param::Text(goal.name.clone()))
            .append(&goal_condition(goal))
            .push("))");
    }
    sql.push("]) AS d");
}

/// One side of a seal: per day, local date and breakdown value, grouped
/// twice (the whole day, and each local part of it).
fn side(sql: &mut Sql, site: &Site, goals: &[&Goal], days: &[NaiveDate], visits_side: bool) {
    let (at, figures, dimensions, after) = if visits_side {
        (
            "session_start",
            "uniqIf(visitor_id, d.1 = 'entry_page') AS visitors, toUInt64(0) AS touched, \
             toUInt64(0) AS pageviews, toUInt64(0) AS events, countIf(hit = 1) AS visits, \
             countIf(hit = 2) AS continued, sum(toUInt64(gap_s)) AS duration, \
             countIf(kind = 'pageview') AS visit_pageviews",
            kept(true),
            // A visit's hits are in the day it started or the next.
            DAY_S,
        )
    } else {
        (
            "ts",
            "uniq(visitor_id) AS visitors, uniq(session_id) AS touched, \
             countIf(kind = 'pageview') AS pageviews, count() AS events, \
             toUInt64(0) AS visits, toUInt64(0) AS continued, toUInt64(0) AS duration, \
             toUInt64(0) AS visit_pageviews",
            kept(false),
            0,
        )
    };
    sql.push(&format!("SELECT toDate({at}) AS day, "))
        .bind(
            &format!("toDate({at}, ?) AS local, "),
            Param::Text(site.time_zone.clone()),
        )
        .push("d.1 AS dimension, d.2 AS value, ")
        .push(figures)
        .push(" FROM events ARRAY JOIN ");
    dimension_array(sql, &dimensions, if visits_side { &[] } else { goals });
    let first = days.iter().min().copied().unwrap_or_default();
    let last = days.iter().max().copied().unwrap_or_default();
    sql.bind(" WHERE site_id = ?", Param::Text(site.id.to_string()))
        .bind(
            " AND ts >= toDateTime(?, 'UTC')",
            Param::Int(midnight_s(first)),
        )
        .bind(
            " AND ts < toDateTime(?, 'UTC')",
            Param::Int(midnight_s(last) + DAY_S + after),
        )
        .bind(
            &format!(" AND has(CAST(? AS Array(Date)), toDate({at}))"),
            Param::Texts(days.iter().map(ToString::to_string).collect()),
        )
        .push(" GROUP BY GROUPING SETS ((day, dimension, value), (day, local, dimension, value))");
}

/// Seals `days` of `site` (at most [`BATCH_DAYS`]) at `version`: counts
/// them from raw events into `sealed_figures`, then lists them in
/// `sealed_days` with the totals they were sealed with.
pub async fn seal(
    client: &Client,
    site: &Site,
    goals: &[Goal],
    basis: &str,
    days: &[NaiveDate],
    version: u64,
) -> Result<(), clickhouse::error::Error> {
    if days.is_empty() {
        return Ok(());
    }
    let goals: Vec<&Goal> = goals
        .iter()
        .filter(|g| g.site_id.as_str() == &*site.id)
        .collect();
    let mut figures = Sql::new(
        "INSERT INTO sealed_figures (site_id, day, part, dimension, value, visitors, touched, \
         pageviews, events, visits, continued, duration, visit_pageviews, version) ",
    );
    figures
        .bind("SELECT ? AS site_id, ", Param::Text(site.id.to_string()))
        .push(
            "day, local AS part, dimension, value, sum(visitors), sum(touched), \
             sum(pageviews), sum(events), sum(visits), sum(continued), sum(duration), \
             sum(visit_pageviews), ",
        )
        .bind("? AS version FROM (", Param::Int(as_i64(version)));
    side(&mut figures, site, &goals, days, false);
    figures.push(" UNION ALL ");
    side(&mut figures, site, &goals, days, true);
    figures.push(") GROUP BY day, part, dimension, value");
    figures.execute(client).await?;

    let mut listed = Sql::new(
        "INSERT INTO sealed_days (site_id, day, version, basis, events, visits, continued, \
         duration, visit_pageviews) SELECT site_id, day, version, ",
    );
    listed
        .bind("? AS basis, ", Param::Text(basis.to_owned()))
        .push(
            "sum(events), sum(visits), sum(continued), sum(duration), sum(visit_pageviews) \
             FROM sealed_figures WHERE dimension = 'total' AND part = toDate(0)",
        )
        .bind(" AND site_id = ?", Param::Text(site.id.to_string()))
        .bind(" AND version = ?", Param::Int(as_i64(version)))
        .push(" GROUP BY site_id, day, version");
    listed.execute(client).await
}

fn as_i64(version: u64) -> i64 {
    i64::try_from(version).unwrap_or(i64::MAX)
}

/// A version for a seal starting at `now_ms`, in microseconds: newer than
/// any before it in this process, and apart from another sealer's starting
/// the same millisecond.
pub fn version(now_ms: i64) -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    let wanted = u64::try_from(now_ms).unwrap_or(0) * 1000 + nanos % 1000;
    let previous = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(wanted.max(last + 1))
        })
        .unwrap_or(0);
    wanted.max(previous + 1)
}

/// What one pass over the sites did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Days sealed (again, for some).
    pub sealed: usize,
    /// Days still to seal when the pass stopped.
    pub left: usize,
}

/// Seals every site's stale days, newest first, until none is left or
/// `max_days` were sealed.
pub async fn pass(
    client: &Client,
    sites: &[std::sync::Arc<Site>],
    goals: &[Goal],
    now_ms: i64,
    max_days: usize,
) -> Result<Pass, clickhouse::error::Error> {
    let mut done = Pass::default();
    let closed = closed_before(now_ms);
    for site in sites {
        let basis = basis(site, goals);
        let stale = stale_days(client, &site.id, &basis, closed).await?;
        let mut stale = stale.as_slice();
        while !stale.is_empty() && done.sealed < max_days {
            let take = BATCH_DAYS.min(stale.len()).min(max_days - done.sealed);
            let (batch, rest) = stale.split_at(take);
            seal(client, site, goals, &basis, batch, version(now_ms)).await?;
            done.sealed += batch.len();
            stale = rest;
        }
        done.left += stale.len();
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_keep_the_breakdowns_the_rollups_keep() {
        let migration = include_str!("../../schema/migrations/0007_rollups.sql");
        for side in [false, true] {
            let names: Vec<&str> = kept(side).iter().map(|(n, _, _)| *n).collect();
            assert_eq!(names[0], "total");
            for name in &names[1..] {
                assert!(migration.contains(&format!("('{name}', ")), "{name}");
            }
        }
    }

    #[test]
    fn a_day_is_sealed_an_hour_after_it_ends() {
        let at = |text: &str| {
            chrono::DateTime::parse_from_rfc3339(text)
                .expect("instant")
                .timestamp_millis()
        };
        let day = |text: &str| text.parse::<NaiveDate>().expect("day");
        assert_eq!(closed_before(at("2026-12-02T00:59:59Z")), day("2026-12-01"));
        assert_eq!(closed_before(at("2026-12-02T01:00:00Z")), day("2026-12-02"));
    }

    #[test]
    fn versions_only_grow() {
        let earlier = version(1_796_000_000_000);
        let later = version(1_796_000_000_001);
        assert!(later > earlier && later / 1000 == 1_796_000_000_001);
        // A clock stepping back never gives an older seal a newer version.
        assert!(version(1_795_000_000_000) > later);
    }
}
