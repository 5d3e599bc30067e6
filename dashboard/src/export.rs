//! Exports: any query's answer as CSV, and every breakdown of a period in
//! one ZIP. CSV is UTF-8 with a header row; a cell that a spreadsheet would
//! read as a formula (`=`, `+`, `-`, `@`, a tab or a carriage return first)
//! is prefixed with `'`, so a page path or a referrer can never run in the
//! reader's spreadsheet. Hidden small counts read `< 5`.

use crate::query::fields::{Dimension, Metric};
use crate::query::{Answer, Order, Query, QueryError, Reader, SMALL_COUNT, run};
use mesure_sites::Mode;
use std::io::Write;

/// One cell, safe for spreadsheets and quoted as CSV needs.
pub fn cell(text: &str) -> String {
    let risky = text
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'));
    let text = if risky {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn number(value: Option<f64>) -> String {
    match value {
        Some(v) if v.fract() == 0.0 => format!("{}", v as i64),
        Some(v) => format!("{v}"),
        None => format!("< {SMALL_COUNT}"),
    }
}

/// The answer as CSV: the dimensions' names, then the metrics'.
pub fn csv(query: &Query, answer: &Answer) -> String {
    let mut out = String::new();
    let header: Vec<String> = query
        .dimensions
        .iter()
        .map(|d| cell(d.name()))
        .chain(query.metrics.iter().map(|m| cell(m.name())))
        .collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for row in &answer.rows {
        let line: Vec<String> = row
            .dimensions
            .iter()
            .map(|d| cell(d))
            .chain(row.metrics.iter().map(|v| number(*v)))
            .collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// The breakdowns of a period, by file name: every panel's whole list.
pub fn breakdowns(mode: Mode) -> Vec<(&'static str, Dimension)> {
    let mut all = vec![
        ("pages", Dimension::Page),
        ("entry-pages", Dimension::EntryPage),
        ("exit-pages", Dimension::ExitPage),
        ("hostnames", Dimension::Hostname),
        ("channels", Dimension::Channel),
        ("sources", Dimension::Source),
        ("referrers", Dimension::Referrer),
        ("countries", Dimension::Country),
        ("regions", Dimension::RegionName),
        ("cities", Dimension::CityName),
        ("browsers", Dimension::Browser),
        ("operating-systems", Dimension::Os),
        ("devices", Dimension::Device),
        ("events", Dimension::EventName),
        ("outbound-links", Dimension::OutboundLink),
        ("downloads", Dimension::FileDownload),
        ("goals", Dimension::Goal),
    ];
    if mode == Mode::Consent {
        all.extend([
            ("utm-sources", Dimension::UtmSource),
            ("utm-mediums", Dimension::UtmMedium),
            ("utm-campaigns", Dimension::UtmCampaign),
        ]);
    }
    all
}

/// The metrics of a breakdown by `dimension`: what has a meaning for it.
pub fn metrics_for(dimension: Dimension) -> Vec<Metric> {
    match dimension {
        Dimension::Goal => vec![Metric::Visitors, Metric::Events, Metric::ConversionRate],
        d if d.level() == crate::query::fields::Level::Event => {
            vec![
                Metric::Visitors,
                Metric::Visits,
                Metric::Pageviews,
                Metric::Events,
            ]
        }
        _ => vec![
            Metric::Visitors,
            Metric::Visits,
            Metric::BounceRate,
            Metric::VisitDuration,
        ],
    }
}

/// Every breakdown of `base`'s site and period, one CSV each, with the
/// totals and the days, in a ZIP.
pub async fn zip(reader: &Reader, base: &Query) -> Result<Vec<u8>, QueryError> {
    let mut files: Vec<(String, String)> = Vec::new();
    let mut overview = base.clone();
    overview.metrics = [Metric::HEADLINE.as_slice(), &[Metric::Events]].concat();
    overview.dimensions.clear();
    overview.order_by = vec![(Order::Metric(Metric::Visitors), true)];
    files.push((
        "overview.csv".into(),
        csv(&overview, &run(reader, &overview).await?),
    ));
    let mut days = overview.clone();
    days.dimensions = vec![Dimension::Bucket(crate::query::fields::Bucket::Day)];
    days.order_by = vec![(Order::Dimension(days.dimensions[0]), false)];
    files.push(("days.csv".into(), csv(&days, &run(reader, &days).await?)));
    for (name, dimension) in breakdowns(base.site.mode) {
        let mut query = base.clone();
        query.metrics = metrics_for(dimension);
        query.dimensions = vec![dimension];
        query.order_by = vec![(Order::Metric(Metric::Visitors), true)];
        files.push((
            format!("{name}.csv"),
            csv(&query, &run(reader, &query).await?),
        ));
    }
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, text) in files {
        zip.start_file(name, options)
            .and_then(|()| zip.write_all(text.as_bytes()).map_err(Into::into))
            .map_err(|e| QueryError::Export(e.to_string()))?;
    }
    let cursor = zip
        .finish()
        .map_err(|e| QueryError::Export(e.to_string()))?;
    Ok(cursor.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_safe_in_a_spreadsheet() {
        assert_eq!(cell("/page"), "/page");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("+33 1"), "'+33 1");
        assert_eq!(cell("-1"), "'-1");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("\tx"), "'\tx");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("deux\nlignes"), "\"deux\nlignes\"");
        assert_eq!(cell("Région Île-de-France"), "Région Île-de-France");
    }

    #[test]
    fn hidden_counts_read_below_the_threshold() {
        assert_eq!(number(None), "< 5");
        assert_eq!(number(Some(12.0)), "12");
        assert_eq!(number(Some(1.5)), "1.5");
    }
}
