//! Realtime: visitors in the last 5 and 30 minutes, the pages they read and
//! where they came from. An exempt site's counts are rounded to the nearest
//! ten (as Matomo does in its CNIL mode), and a row that rounds to nothing
//! is left out: nobody can watch one person browse.

use super::fields::{Dimension, Metric};
use super::period::{Period, local_date};
use super::{Answer, Query, QueryError, Reader, run};
use mesure_sites::Mode;
use serde_json::{Value, json};

/// Rows of pages and of sources at most.
pub const TOP: usize = 10;

/// Rounds to the nearest ten, halves up.
pub fn round_to_ten(n: f64) -> f64 {
    ((n + 5.0) / 10.0).floor() * 10.0
}

fn window(query: &Query, now_ms: i64, minutes: i64) -> Query {
    let start_ms = now_ms - minutes * 60_000;
    Query {
        period: Period {
            start_ms,
            end_ms: now_ms + 1,
            first: local_date(query.tz, start_ms),
            last: local_date(query.tz, now_ms),
            instants: true,
        },
        realtime: true,
        ..query.clone()
    }
}

/// The realtime figures of `query`'s site (its period, metrics and
/// dimensions are set here), at `now_ms`.
pub async fn realtime(reader: &Reader, query: &Query, now_ms: i64) -> Result<Value, QueryError> {
    let rounded = query.site.mode == Mode::Exempt;
    let count = |answer: &Answer| {
        let n = answer
            .rows
            .first()
            .and_then(|r| r.metrics[0])
            .unwrap_or(0.0);
        if rounded { round_to_ten(n) } else { n }
    };
    let mut visitors = Vec::new();
    for minutes in [5, 30] {
        let mut q = window(query, now_ms, minutes);
        q.metrics = vec![Metric::Visitors];
        q.dimensions.clear();
        q.order_by.clear();
        visitors.push(count(&run(reader, &q).await?));
    }
    let mut lists = Vec::new();
    for (dimension, key) in [(Dimension::Page, "page"), (Dimension::Source, "source")] {
        let mut q = window(query, now_ms, 30);
        q.metrics = vec![Metric::Visitors];
        q.dimensions = vec![dimension];
        q.order_by = vec![(super::Order::Metric(Metric::Visitors), true)];
        q.limit = super::super::api::v2::MAX_LIMIT;
        q.offset = 0;
        let answer = run(reader, &q).await?;
        let rows: Vec<Value> = answer
            .rows
            .iter()
            .filter_map(|row| {
                let n = row.metrics[0]?;
                let n = if rounded { round_to_ten(n) } else { n };
                (n > 0.0).then(|| json!({key: row.dimensions[0], "visitors": n as u64}))
            })
            .take(TOP)
            .collect();
        lists.push(rows);
    }
    let sources = lists.pop().unwrap_or_default();
    let pages = lists.pop().unwrap_or_default();
    Ok(json!({
        "site_id": query.site.id.as_ref(),
        "visitors_5m": visitors[0] as u64,
        "visitors_30m": visitors[1] as u64,
        "pages": pages,
        "sources": sources,
        "rounded_to": if rounded { json!(10) } else { Value::Null },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_to_ten() {
        for (n, rounded) in [
            (0.0, 0.0),
            (4.0, 0.0),
            (5.0, 10.0),
            (14.0, 10.0),
            (15.0, 20.0),
            (1234.0, 1230.0),
        ] {
            assert_eq!(round_to_ten(n), rounded, "{n}");
        }
    }
}
