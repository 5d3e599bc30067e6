//! The pages' markup, checked at compile time (maud escapes every value).
//! Every figure is in a table, so the pages read without JavaScript and
//! with a screen reader.

use super::i18n::{Arg, Lang};
use super::view::{CHART_METRICS, Compare, PANELS, PeriodChoice, View, ViewFilter};
use super::{
    Account, Figures, Group, Overview, PANEL_ROWS, Panel, SiteLine, Trend, assets, countries,
};
use crate::api::ApiError;
use crate::query::fields::{Dimension, Metric};
use crate::query::filter::Operator;
use crate::query::{Answer, SMALL_COUNT};
use maud::{DOCTYPE, Markup, html};
use mesure_sites::Site;

/// A whole page: header (language switch, the signed-in user and sign-out),
/// `body`.
pub(super) fn layout(
    lang: Lang,
    (title, here): (&str, &str),
    view: &View,
    account: Option<&Account>,
    head: Markup,
    body: Markup,
) -> String {
    let style = &*assets::STYLE;
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="same-origin";
                title { (title) " · " (lang.t("app-name")) }
                link rel="stylesheet" href=(style.path()) integrity=(style.integrity);
                (head)
            }
            body {
                a.skip href="#main" { (lang.t("skip-to-content")) }
                header.top {
                    // A link's visitor stays on the link's pages.
                    a.brand href=(view.link(if account.is_some() { "/" } else { here }, |_| {})) { (lang.t("app-name")) }
                    nav aria-label=(lang.t("language")) {
                        ul {
                            @for other in Lang::ALL {
                                li {
                                    @if other == lang {
                                        a href=(view.link(here, |v| v.lang = Some(other))) lang=(other.code()) aria-current="true" { (other.own_name()) }
                                    } @else {
                                        a href=(view.link(here, |v| v.lang = Some(other))) lang=(other.code()) hreflang=(other.code()) { (other.own_name()) }
                                    }
                                }
                            }
                        }
                    }
                    @if let Some(account) = account {
                        div.account {
                            a href="/account" { (lang.t("nav-account")) }
                            @if account.admin {
                                a href="/audit" { (lang.t("nav-audit")) }
                            }
                            span.muted { (lang.t_with("signed-in-as", &[("email", Arg::Text(account.email.clone()))])) }
                            form.inline method="post" action="/sign-out" {
                                input type="hidden" name="csrf" value=(account.csrf);
                                button type="submit" { (lang.t("sign-out")) }
                            }
                        }
                    }
                }
                main #main { (body) }
            }
        }
    }
    .into_string()
}

/// A link among choices; the chosen one is marked as current.
fn choice(href: String, current: bool, text: impl maud::Render) -> Markup {
    html! { a href=(href) aria-current=[current.then_some("true")] { (text) } }
}

/// The view as hidden fields of a form, but for `except`.
fn hidden_view(view: &View, except: &[&str]) -> Markup {
    html! {
        @for (key, value) in form_urlencoded::parse(view.query().as_bytes()) {
            @if !except.contains(&key.as_ref()) {
                input type="hidden" name=(key) value=(value);
            }
        }
    }
}

/// A metric's value as the language writes it; `None` is a hidden small
/// count for counts, and undefined for ratios.
pub fn value(lang: Lang, metric: Metric, value: Option<f64>) -> String {
    let Some(v) = value else {
        return if metric.is_count() {
            lang.t_with("small-count", &[("threshold", Arg::Count(SMALL_COUNT))])
        } else {
            "–".to_owned()
        };
    };
    match metric {
        Metric::BounceRate | Metric::Percentage | Metric::ConversionRate => lang.percent(v),
        Metric::VisitDuration => lang.duration(v),
        Metric::ViewsPerVisit => lang.decimal(v, 2),
        _ => lang.integer(v.max(0.0).round() as u64),
    }
}

/// A change against the comparison period, and its class.
fn change(lang: Lang, metric: Metric, change: Option<f64>) -> (String, &'static str) {
    let Some(c) = change else {
        return (lang.t("change-new"), "");
    };
    if c == 0.0 {
        return (lang.t("change-same"), "");
    }
    let amount = if metric == Metric::BounceRate {
        // Points, not percent.
        format!("{} pt", lang.decimal(c.abs(), 1))
    } else {
        lang.percent(c.abs())
    };
    // A bounce rate going up is bad news.
    let good = (c > 0.0) != (metric == Metric::BounceRate);
    let key = if c > 0.0 { "change-up" } else { "change-down" };
    (
        lang.t_with(key, &[("change", Arg::Text(amount))]),
        if good { "up" } else { "down" },
    )
}

fn metric_name(lang: Lang, metric: Metric) -> String {
    lang.t(&format!("metric-{}", metric.name().replace('_', "-")))
}

pub fn dimension_name(lang: Lang, dimension: Dimension) -> String {
    lang.t(&format!(
        "dim-{}",
        dimension.name().replace([':', '_'], "-")
    ))
}

fn shown(lang: Lang, value: &str) -> String {
    if value.is_empty() {
        lang.t("value-none")
    } else {
        value.to_owned()
    }
}

/// A dimension's value as a reader knows it: a country by its name.
fn label(lang: Lang, dimension: Dimension, value: &str) -> String {
    match dimension {
        Dimension::Country => {
            countries::name(lang, value).map_or_else(|| shown(lang, value), str::to_owned)
        }
        _ => shown(lang, value),
    }
}

fn filter_label(lang: Lang, filter: &ViewFilter) -> String {
    let key = match filter.operator {
        Operator::Is => "filter-is",
        Operator::IsNot => "filter-is-not",
        Operator::Contains => "filter-contains",
        Operator::DoesNotContain => "filter-does-not-contain",
    };
    lang.t_with(
        key,
        &[
            (
                "dimension",
                Arg::Text(dimension_name(lang, filter.dimension)),
            ),
            (
                "value",
                Arg::Text(label(lang, filter.dimension, &filter.value)),
            ),
        ],
    )
}

/// The period, comparison and filter controls: links to the same page.
/// `realtime`: the site's realtime page, offered beside the periods.
fn controls(
    lang: Lang,
    here: &str,
    view: &View,
    range: Option<(String, String)>,
    realtime: Option<&str>,
) -> Markup {
    let custom = match view.period {
        PeriodChoice::Custom(a, b) => Some((a.to_string(), b.to_string())),
        _ => None,
    };
    html! {
        div.controls {
            nav aria-label=(lang.t("period")) {
                ul.choices {
                    @for period in PeriodChoice::OFFERED {
                        li {
                            @let href = view.link(here, |v| v.period = period);
                            (choice(href, period == view.period, lang.t(&period.label_key())))
                        }
                    }
                    @if let Some(path) = realtime {
                        li { a href=(view.link(path, |_| {})) { (lang.t("realtime")) } }
                    }
                }
            }
            details open[custom.is_some()] {
                summary { (lang.t("period-custom")) }
                form.custom method="get" action=(here) {
                    (hidden_view(view, &["period", "from", "to"]))
                    input type="hidden" name="period" value="custom";
                    label { (lang.t("period-from")) input type="date" name="from" required value=[custom.as_ref().map(|c| &c.0)]; }
                    label { (lang.t("period-to")) input type="date" name="to" required value=[custom.as_ref().map(|c| &c.1)]; }
                    button type="submit" { (lang.t("period-apply")) }
                }
            }
            @if let Some((from, to)) = range {
                p.muted { (lang.t_with("period-range", &[("from", Arg::Text(from)), ("to", Arg::Text(to))])) }
            }
            nav aria-label=(lang.t("compare")) {
                ul.choices {
                    @for compare in Compare::ALL {
                        li {
                            @let key = format!("compare-{}", compare.name());
                            @let href = view.link(here, |v| v.compare = compare);
                            (choice(href, compare == view.compare, lang.t(&key)))
                        }
                    }
                }
            }
            @if !view.filters.is_empty() {
                div role="region" aria-label=(lang.t("filters")) {
                    ul.chips {
                        @for (i, filter) in view.filters.iter().enumerate() {
                            @let label = filter_label(lang, filter);
                            li {
                                a href=(view.link(here, |v| { v.filters.remove(i); }))
                                    aria-label=(lang.t_with("filter-remove", &[("filter", Arg::Text(label.clone()))])) {
                                    (label) span aria-hidden="true" { "×" }
                                }
                            }
                        }
                        @if view.filters.len() > 1 {
                            li { a href=(view.link(here, |v| v.filters.clear())) { (lang.t("filter-clear")) } }
                        }
                    }
                }
            }
        }
    }
}

/// The headline figures of an answer, with their changes.
fn figures(lang: Lang, answer: &Answer) -> Markup {
    let row = answer.rows.first();
    html! {
        dl.figures {
            @for (i, metric) in Metric::HEADLINE.iter().enumerate() {
                div {
                    dt { (metric_name(lang, *metric)) }
                    dd { (value(lang, *metric, row.and_then(|r| r.metrics.get(i).copied().flatten()))) }
                    @if let Some((_, changes)) = row.and_then(|r| r.comparison.as_ref()) {
                        @let (text, class) = change(lang, *metric, changes.get(i).copied().flatten());
                        dd.change.(class) { (text) }
                    }
                }
            }
        }
    }
}

fn chart(overview: &Overview, account: Option<&Account>, admin: bool) -> Markup {
    let (lang, view) = (overview.lang, &overview.view);
    let here = &overview.here;
    let metric = view.metric;
    let rows = &overview.chart.answer.rows;
    let bucket = match overview.chart.query.dimensions.first() {
        Some(Dimension::Bucket(b)) => b.name().replace(':', "-"),
        _ => "time-day".to_owned(),
    };
    let compared = overview.comparison.is_some();
    html! {
        section.card aria-labelledby="chart" {
            h2 #chart { (lang.t("chart")) }
            nav aria-label=(lang.t("chart-metric")) {
                ul.choices {
                    @for m in CHART_METRICS {
                        li {
                            @let href = view.link(here, |v| v.metric = m);
                            (choice(href, m == metric, metric_name(lang, m)))
                        }
                    }
                }
            }
            div #chart-canvas aria-hidden="true" {}
            // Scrolls: reachable by keyboard.
            div.chart-table tabindex="0" role="region" aria-labelledby="chart" {
                table data-chart data-bucket=(bucket.trim_start_matches("time-")) data-x=(lang.t("chart-date")) data-now=(lang.t("chart-now")) data-then=(lang.t("chart-then")) {
                    caption { (lang.t_with("chart-table", &[
                        ("metric", Arg::Text(metric_name(lang, metric))),
                        ("bucket", Arg::Text(lang.t(&format!("bucket-{bucket}")))),
                    ])) }
                    thead { tr {
                        th scope="col" { (lang.t("chart-date")) }
                        th.n scope="col" { (lang.t("chart-now")) }
                        @if compared { th.n scope="col" { (lang.t("chart-then")) } }
                    } }
                    tbody {
                        @for label in &overview.chart_labels {
                            @let row = rows.iter().find(|r| r.dimensions.first() == Some(label));
                            @let now = row.map_or(Some(0.0), |r| r.metrics[0]);
                            @let then = row.and_then(|r| r.comparison.as_ref()).map_or(Some(0.0), |(then, _)| then[0]);
                            tr data-t=[chart_seconds(label)] {
                                th scope="row" { (time_label(lang, label)) }
                                td.n data-v=[now] { (value(lang, metric, now)) }
                                @if compared {
                                    td.n data-v=[then] { (value(lang, metric, then)) }
                                }
                            }
                        }
                    }
                }
            }
            (notes(overview, account, admin))
        }
    }
}

/// The site's notes within the period: listed (and drawn on the chart by
/// its script), and for the site's admins each removable and a form to add
/// one.
fn notes(overview: &Overview, account: Option<&Account>, admin: bool) -> Markup {
    let (lang, view) = (overview.lang, &overview.view);
    let here = &overview.here;
    // Forms for a signed-in admin only.
    let csrf = account.filter(|_| admin).map(|a| a.csrf.as_str());
    let today = overview.today;
    let away = chrono::Days::new(crate::annotations::MAX_DAYS_AWAY);
    html! {
        h3 #annotations { (lang.t("annotations")) }
        @if overview.annotations.is_empty() {
            p.muted { (lang.t("annotations-none")) }
        } @else {
            ol.notes {
                @for note in &overview.annotations {
                    li data-note=(note.date) {
                        time datetime=(note.date) { (lang.date(note.date)) }
                        " "
                        span.note-text { (note.text) }
                        @if let Some(csrf) = csrf {
                        form.inline method="post" action=(format!("{here}/annotations/{}/delete", note.id)) {
                            input type="hidden" name="view" value=(view.query());
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" aria-label=(lang.t_with("annotation-remove", &[("text", Arg::Text(note.text.clone()))])) {
                                (lang.t("annotation-remove-short"))
                            }
                        }
                        }
                    }
                }
            }
        }
        @if let Some(csrf) = csrf {
        details.add-note {
            summary { (lang.t("annotation-add")) }
            form.custom method="post" action=(format!("{here}/annotations")) {
                input type="hidden" name="view" value=(view.query());
                input type="hidden" name="csrf" value=(csrf);
                label {
                    (lang.t("annotation-date"))
                    input type="date" name="date" required value=(today)
                        min=[today.checked_sub_days(away)] max=[today.checked_add_days(away)];
                }
                label.wide {
                    (lang.t("annotation-text"))
                    input type="text" name="text" required maxlength=(crate::annotations::MAX_TEXT)
                        placeholder=(lang.t("annotation-example"));
                }
                button type="submit" { (lang.t("annotation-save")) }
            }
        }
        }
    }
}

fn chart_seconds(label: &str) -> Option<i64> {
    let at = chrono::NaiveDate::parse_from_str(label, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .or_else(|| chrono::NaiveDateTime::parse_from_str(label, "%Y-%m-%d %H:%M:%S").ok())?;
    Some(at.and_utc().timestamp())
}

/// A bucket's label: a date, a month or an hour, as the language writes it.
fn time_label(lang: Lang, label: &str) -> String {
    if let Ok(date) = chrono::NaiveDate::parse_from_str(label, "%Y-%m-%d") {
        return lang.date(date);
    }
    if let Ok(at) = chrono::NaiveDateTime::parse_from_str(label, "%Y-%m-%d %H:%M:%S") {
        return format!("{} {}", lang.date(at.date()), at.format("%H:%M"));
    }
    label.to_owned()
}

/// How a details table is sorted, and the links that sort it.
struct Sorting<'a> {
    pub by: Metric,
    pub descending: bool,
    /// The link sorting by a metric, one way.
    pub link: &'a dyn Fn(Metric, bool) -> String,
}

/// A breakdown's rows: each label filters the overview (`overview` is its
/// path); the bar behind it is its share of the largest.
fn rows_table(
    lang: Lang,
    overview: &str,
    view: &View,
    figures: &Figures,
    sorting: Option<&Sorting>,
) -> Markup {
    let Some(dimension) = figures.query.dimensions.first().copied() else {
        return html! {};
    };
    let metrics = &figures.query.metrics;
    let answer = &figures.answer;
    let top = answer
        .rows
        .iter()
        .filter_map(|r| r.metrics.first().copied().flatten())
        .fold(0.0_f64, f64::max);
    html! {
        @if answer.rows.is_empty() {
            p.muted { (lang.t("panel-empty")) }
        } @else {
            div.scroll {
            table {
                thead { tr {
                    th scope="col" { (dimension_name(lang, dimension)) }
                    @for m in metrics {
                        @match sorting {
                            Some(sorting) if sorting.by == *m => {
                                th.n scope="col" aria-sort=(if sorting.descending { "descending" } else { "ascending" }) {
                                    a href=((sorting.link)(*m, !sorting.descending)) { (metric_name(lang, *m)) span aria-hidden="true" { (if sorting.descending { " ↓" } else { " ↑" }) } }
                                }
                            }
                            Some(sorting) => {
                                th.n scope="col" { a href=((sorting.link)(*m, true)) { (metric_name(lang, *m)) } }
                            }
                            None => { th.n scope="col" { (metric_name(lang, *m)) } }
                        }
                    }
                } }
                tbody {
                    @for row in &answer.rows {
                        @let raw = row.dimensions.first().cloned().unwrap_or_default();
                        @let share = row.metrics.first().copied().flatten().filter(|_| top > 0.0).map_or(0.0, |v| v / top * 100.0);
                        tr {
                            td.label {
                                // An attribute, not a style: allowed by a strict CSP.
                                svg.bar aria-hidden="true" viewBox="0 0 100 1" preserveAspectRatio="none" {
                                    rect width=(format!("{share:.1}")) height="1" {}
                                }
                                a href=(view.link(overview, |v| {
                                    v.filters.retain(|f| f.dimension != dimension);
                                    v.filters.push(ViewFilter { operator: Operator::Is, dimension, value: raw.clone() });
                                })) title=(lang.t_with("filter-by", &[("value", Arg::Text(label(lang, dimension, &raw)))])) {
                                    (label(lang, dimension, &raw))
                                }
                            }
                            @for (i, m) in metrics.iter().enumerate() {
                                td.n { (value(lang, *m, row.metrics.get(i).copied().flatten())) }
                            }
                        }
                    }
                }
            }
            }
            @if answer.hidden_rows > 0 {
                p.note { (lang.t_with("panel-hidden", &[
                    ("rows", Arg::Count(answer.hidden_rows as u64)),
                    ("threshold", Arg::Count(SMALL_COUNT)),
                ])) }
            }
        }
    }
}

/// A panel of the overview: its tabs, its first rows, links to its details
/// and its CSV.
fn breakdown(lang: Lang, here: &str, view: &View, panel: &Panel) -> Markup {
    let dimension = panel.figures.query.dimensions.first().copied();
    let id = panel.title_key;
    html! {
        section.card aria-labelledby=(id) {
            h2 id=(id) { (lang.t(panel.title_key)) }
            @if let Some(p) = panel.tabs {
                nav aria-label=(lang.t(panel.title_key)) {
                    ul.tabs {
                        @for (i, (_, key, _)) in PANELS[p].tabs.iter().enumerate() {
                            li {
                                @let href = view.link(here, |v| v.tabs[p] = i);
                                (choice(href, view.tabs[p] == i, lang.t(key)))
                            }
                        }
                        @if matches!(PANELS[p].tabs[view.tabs[p]].2, Dimension::Browser | Dimension::Os) {
                            li {
                                @let href = view.link(here, |v| v.versions = !v.versions);
                                (choice(href, view.versions, lang.t("tab-versions")))
                            }
                        }
                    }
                }
            }
            @if dimension == Some(Dimension::Country) {
                (map(lang, &panel.figures))
            }
            (rows_table(lang, here, view, &first_rows(&panel.figures), None))
            @if let Some(dimension) = dimension {
                div.panel-foot {
                    a href=(view.link(&details_path(here, dimension), |_| {})) {
                        (lang.t("panel-details"))
                        span.visually-hidden { " – " (lang.t(panel.title_key)) }
                    }
                    a href=(csv_link(here, view, dimension)) download {
                        (lang.t("panel-csv"))
                        span.visually-hidden { " – " (lang.t(panel.title_key)) }
                    }
                }
            }
        }
    }
}

/// A panel's first rows (the map has more).
fn first_rows(figures: &Figures) -> Figures {
    let mut first = figures.clone();
    first.answer.rows.truncate(PANEL_ROWS);
    first
}

/// The countries' map: each shaded by its visitors (the table beside it
/// holds the figures, for screen readers too).
fn map(lang: Lang, figures: &Figures) -> Markup {
    let visitors: std::collections::HashMap<&str, Option<f64>> = figures
        .answer
        .rows
        .iter()
        .filter_map(|row| {
            Some((
                row.dimensions.first()?.as_str(),
                row.metrics.first().copied().flatten(),
            ))
        })
        .collect();
    let top = visitors.values().flatten().fold(0.0_f64, |a, b| a.max(*b));
    html! {
        svg.map viewBox=(format!("0 0 {} {}", countries::WIDTH, countries::HEIGHT)) role="img" aria-label=(lang.t("map-label")) {
            @for (code, path) in countries::shapes() {
                @match visitors.get(code) {
                    Some(count) => {
                        @let opacity = count.filter(|_| top > 0.0).map_or(0.15, |v| 0.15 + 0.85 * v / top);
                        path.on d=(path) fill-opacity=(format!("{opacity:.2}")) {
                            title { (label(lang, Dimension::Country, code)) " : " (value(lang, Metric::Visitors, *count)) }
                        }
                    }
                    None => { path d=(path) { title { (label(lang, Dimension::Country, code)) } } }
                }
            }
        }
    }
}

/// The details page of a dimension, under a site's overview path.
pub fn details_path(overview: &str, dimension: Dimension) -> String {
    let d: String = form_urlencoded::byte_serialize(dimension.name().as_bytes()).collect();
    format!("{overview}/details/{d}")
}

/// The CSV of a panel's whole list, in the same view.
fn csv_link(here: &str, view: &View, dimension: Dimension) -> String {
    let d: String = form_urlencoded::byte_serialize(dimension.name().as_bytes()).collect();
    match view.query() {
        query if query.is_empty() => format!("{here}/csv?d={d}"),
        query => format!("{here}/csv?{query}&d={d}"),
    }
}

pub fn overview(overview: &Overview, account: Option<&Account>, admin: bool) -> String {
    let (lang, view) = (overview.lang, &overview.view);
    let site = &overview.site;
    let here = overview.here.clone();
    let range = (
        lang.date(overview.period.first),
        lang.date(overview.period.last),
    );
    let body = html! {
        h1 { (site.id.as_ref()) }
        @if admin {
            p.actions {
                a href=(format!("{here}/settings")) { (lang.t("nav-settings")) }
                " · "
                a href=(format!("{here}/users")) { (lang.t("nav-users")) }
                " · "
                a href=(format!("{here}/links")) { (lang.t("nav-links")) }
            }
        }
        (controls(lang, &here, view, Some(range), (!overview.shared).then(|| format!("{here}/realtime")).as_deref()))
        @if let Some(then) = overview.comparison {
            p.muted { (lang.t_with("compare-against", &[
                ("from", Arg::Text(lang.date(then.first))),
                ("to", Arg::Text(lang.date(then.last))),
            ])) }
        }
        section aria-labelledby="headline" {
            h2 #headline { (lang.t("headline")) }
            (figures(lang, &overview.headline.answer))
        }
        (chart(overview, account, admin))
        div.grid {
            @for panel in &overview.panels {
                (breakdown(lang, &here, view, panel))
            }
        }
        p.note {
            @if site.mode == mesure_sites::Mode::Exempt {
                (lang.t_with("mode-exempt", &[("threshold", Arg::Count(SMALL_COUNT))]))
            } @else {
                (lang.t("mode-consent"))
            }
            @if !overview.shared {
                " " a href=(format!("{here}/notice")) { (lang.t("nav-notice")) }
                " · " a href=(format!("{here}/assessment")) { (lang.t("nav-assessment")) }
            }
        }
    };
    let head = html! {
        link rel="stylesheet" href=(assets::UPLOT_STYLE.path()) integrity=(assets::UPLOT_STYLE.integrity);
        script src=(assets::UPLOT.path()) integrity=(assets::UPLOT.integrity) defer {}
        script src=(assets::CHART.path()) integrity=(assets::CHART.integrity) defer {}
    };
    layout(lang, (site.id.as_ref(), &here), view, account, head, body)
}

/// A sparkline of a trend: decorative, named by its range and extremes.
fn sparkline(lang: Lang, trend: &Trend) -> Markup {
    const WIDTH: f64 = 120.0;
    const HEIGHT: f64 = 28.0;
    let values = &trend.values;
    if values.len() < 2 {
        return html! {};
    }
    let high = values.iter().copied().fold(0.0, f64::max);
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let step = WIDTH / (values.len() - 1) as f64;
    let points = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let y = HEIGHT - 2.0 - v / high.max(1.0) * (HEIGHT - 4.0);
            format!("{:.1},{y:.1}", i as f64 * step)
        })
        .collect::<Vec<_>>()
        .join(" ");
    let label = lang.t_with(
        "sites-trend-label",
        &[
            ("bucket", Arg::Text(lang.t(&trend.bucket_key))),
            ("from", Arg::Text(lang.date(trend.period.first))),
            ("to", Arg::Text(lang.date(trend.period.last))),
            ("low", Arg::Text(value(lang, Metric::Visitors, Some(low)))),
            ("high", Arg::Text(value(lang, Metric::Visitors, Some(high)))),
        ],
    );
    html! {
        svg.spark viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) width=(WIDTH) height=(HEIGHT) role="img" aria-label=(label) {
            polyline points=(points) {}
        }
    }
}

/// The sum of a headline count over sites, and its change: visits and
/// page views add up across sites (visitors do not).
fn rollup(lines: &[SiteLine], index: usize, metric: Metric) -> (Option<f64>, Option<Option<f64>>) {
    let rows: Vec<_> = lines
        .iter()
        .filter_map(|l| l.headline.rows.first())
        .collect();
    let sum = |values: Vec<Option<f64>>| values.into_iter().flatten().reduce(|a, b| a + b);
    let at = |values: &[Option<f64>]| values.get(index).copied().flatten();
    let now = sum(rows.iter().map(|r| at(&r.metrics)).collect());
    let compared: Vec<_> = rows.iter().filter_map(|r| r.comparison.as_ref()).collect();
    let then = sum(compared.iter().map(|(values, _)| at(values)).collect());
    let change = (!compared.is_empty()).then(|| crate::query::change(metric, now, then));
    (now, change)
}

/// Every site with its trend and headline figures, by organisation, each
/// organisation with its visits and page views summed.
pub fn sites(groups: &[Group], view: &View, lang: Lang, account: &Account) -> String {
    let organised = groups.iter().any(|g| !g.organisation.is_empty());
    let summed = [(1, Metric::Visits), (2, Metric::Pageviews)];
    let body = html! {
        h1 { (lang.t("sites-title")) }
        @if account.superuser {
            p { a href="/sites/new" { (lang.t("nav-new-site")) } }
        }
        (controls(lang, "/", view, None, None))
        @if groups.is_empty() {
            p { (lang.t("sites-empty")) }
        }
        @for (g, group) in groups.iter().enumerate() {
            @let heading = format!("organisation-{g}");
            section.card aria-labelledby=[organised.then_some(&heading)] {
                @if organised {
                    h2 id=(heading) {
                        @if group.organisation.is_empty() { (lang.t("sites-no-organisation")) }
                        @else { (group.organisation) }
                    }
                    @if !group.organisation.is_empty()
                        && (account.superuser || account.organisations.contains(&group.organisation)) {
                        p { a href=(format!("/organisations/{}", percent_encoding::utf8_percent_encode(&group.organisation, percent_encoding::NON_ALPHANUMERIC))) { (lang.t("organisation-manage")) } }
                    }
                }
                div.scroll {
                table {
                    thead { tr {
                        th scope="col" { (lang.t("nav-sites")) }
                        th scope="col" { (lang.t("sites-trend")) }
                        @for m in Metric::HEADLINE { th.n scope="col" { (metric_name(lang, m)) } }
                    } }
                    tbody {
                        @for line in &group.lines {
                            @let row = line.headline.rows.first();
                            tr {
                                th scope="row" {
                                    a href=(view.link(&format!("/sites/{}", line.site.id), |_| {}))
                                        aria-label=(lang.t_with("sites-open", &[("site", Arg::Text(line.site.id.to_string()))])) {
                                        (line.site.id.as_ref())
                                    }
                                }
                                td { (sparkline(lang, &line.trend)) }
                                @for (i, m) in Metric::HEADLINE.iter().enumerate() {
                                    td.n { (value(lang, *m, row.and_then(|r| r.metrics.get(i).copied().flatten()))) }
                                }
                            }
                        }
                    }
                    @if !group.organisation.is_empty() {
                        tfoot { tr {
                            th scope="row" colspan="3" {
                                (lang.t_with("sites-organisation-total", &[("count", Arg::Count(group.lines.len() as u64))]))
                            }
                            // Visitors are in the heading's span: they do not add up.
                            @for (i, m) in Metric::HEADLINE.iter().enumerate().skip(1) {
                                @if let Some((_, metric)) = summed.iter().find(|(j, _)| *j == i) {
                                    @let (now, changed) = rollup(&group.lines, i, *metric);
                                    td.n data-total=(m.name()) {
                                        (value(lang, *metric, now))
                                        @if let Some(c) = changed {
                                            @let (text, class) = change(lang, *metric, c);
                                            br; span.change.(class) { (text) }
                                        }
                                    }
                                } @else {
                                    td.n { "–" }
                                }
                            }
                        } }
                    }
                }
                }
                @if !group.organisation.is_empty() {
                    p.note { (lang.t("sites-organisation-note")) }
                }
            }
        }
    };
    layout(
        lang,
        (&lang.t("sites-title"), "/"),
        view,
        Some(account),
        html! {},
        body,
    )
}

pub fn error(error: &ApiError, lang: Lang) -> String {
    let message = match error {
        ApiError::BadRequest(reason) => {
            lang.t_with("error-bad-view", &[("reason", Arg::Text(reason.clone()))])
        }
        ApiError::UnknownSite => lang.t("error-not-found"),
        ApiError::Unauthorized => lang.t("error-sign-in"),
        ApiError::Unavailable(_) | ApiError::Internal(_) => lang.t("error-unavailable"),
        ApiError::Refused { key, .. } => lang.t(key),
    };
    let view = View::default();
    let body = html! {
        h1 { (lang.t("error-title")) }
        p { (message) }
        p { a href="/" { (lang.t("error-back")) } }
    };
    layout(
        lang,
        (&lang.t("error-title"), "/"),
        &view,
        None,
        html! {},
        body,
    )
}

/// A link with more parameters than its view.
fn with_params(link: String, params: &[(&str, &str)]) -> String {
    let extra = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let join = if link.contains('?') { '&' } else { '?' };
    format!("{link}{join}{extra}")
}

/// A dimension's whole list: searched, sorted, with its CSV.
#[derive(Debug)]
pub struct Details<'a> {
    pub account: Option<&'a Account>,
    /// Where the site's pages are for this reader.
    pub home: String,
    pub site: &'a Site,
    pub view: &'a View,
    pub lang: Lang,
    pub figures: &'a Figures,
    pub search: &'a str,
    pub sort: Metric,
    pub descending: bool,
}

pub fn details(details: &Details) -> String {
    let (lang, view, site) = (details.lang, details.view, details.site);
    let period = details.figures.query.period;
    let home = details.home.clone();
    let Some(dimension) = details.figures.query.dimensions.first().copied() else {
        return error(&ApiError::Internal("no dimension".into()), lang);
    };
    let here = details_path(&home, dimension);
    let title = format!("{} – {}", site.id, dimension_name(lang, dimension));
    let range = (lang.date(period.first), lang.date(period.last));
    let search = details.search;
    let link = |metric: Metric, descending: bool| {
        let mut params = vec![
            ("sort", metric.name()),
            ("dir", if descending { "desc" } else { "asc" }),
        ];
        if !search.is_empty() {
            params.push(("q", search));
        }
        with_params(view.link(&here, |_| {}), &params)
    };
    let sorting = Sorting {
        by: details.sort,
        descending: details.descending,
        link: &link,
    };
    let body = html! {
        p { a href=(view.link(&home, |_| {})) { "← " (lang.t("details-back")) } }
        h1 { (title) }
        (controls(lang, &here, view, Some(range), details.account.map(|_| format!("{home}/realtime")).as_deref()))
        form.search method="get" action=(here) role="search" {
            (hidden_view(view, &[]))
            input type="hidden" name="sort" value=(details.sort.name());
            input type="hidden" name="dir" value=(if details.descending { "desc" } else { "asc" });
            label { (lang.t("details-search")) " " input type="search" name="q" value=(search) maxlength="200"; }
            button type="submit" { (lang.t("details-search")) }
        }
        p.muted { (lang.t_with("details-rows", &[("rows", Arg::Count(details.figures.answer.total_rows as u64))])) }
        (rows_table(lang, &home, view, details.figures, Some(&sorting)))
        p { a href=(csv_link(&home, view, dimension)) download { (lang.t("panel-csv")) } }
    };
    layout(lang, (&title, &here), view, details.account, html! {}, body)
}

/// The realtime page: the figures as they are now (`figures` is the
/// realtime API's answer), refreshed by a small script.
pub fn realtime(
    site: &Site,
    view: &View,
    lang: Lang,
    figures: &serde_json::Value,
    account: &Account,
) -> String {
    let home = format!("/sites/{}", site.id);
    let here = format!("{home}/realtime");
    let title = lang.t_with(
        "realtime-title",
        &[("site", Arg::Text(site.id.to_string()))],
    );
    let script = &*assets::REALTIME;
    let count = |key: &str| lang.integer(figures[key].as_u64().unwrap_or(0));
    let list = |id: &str, key: &str, caption: String| {
        let rows = figures[key].as_array().cloned().unwrap_or_default();
        let label = if key == "pages" { "page" } else { "source" };
        html! {
            section.card aria-labelledby=(format!("{id}-title")) {
                h2 id=(format!("{id}-title")) { (caption) }
                p.muted id=(format!("{id}-empty")) hidden[!rows.is_empty()] { (lang.t("panel-empty")) }
                table {
                    thead { tr {
                        th scope="col" { (dimension_name(lang, if key == "pages" { Dimension::Page } else { Dimension::Source })) }
                        th.n scope="col" { (metric_name(lang, Metric::Visitors)) }
                    } }
                    tbody id=(id) {
                        @for row in &rows {
                            tr {
                                td { (shown(lang, row[label].as_str().unwrap_or(""))) }
                                td.n { (lang.integer(row["visitors"].as_u64().unwrap_or(0))) }
                            }
                        }
                    }
                }
            }
        }
    };
    let source = with_params("/api/v1/realtime".to_owned(), &[("site_id", &site.id)]);
    let body = html! {
        p { a href=(view.link(&home, |_| {})) { "← " (lang.t("details-back")) } }
        h1 { (title) }
        div data-realtime=(site.id.as_ref()) data-source=(source) data-none=(lang.t("value-none")) {
            dl.figures aria-live="polite" {
                div { dt { (lang.t("realtime-5m")) } dd #rt-5m { (count("visitors_5m")) } }
                div { dt { (lang.t("realtime-30m")) } dd #rt-30m { (count("visitors_30m")) } }
            }
            div.grid {
                (list("rt-pages", "pages", lang.t("realtime-pages")))
                (list("rt-sources", "sources", lang.t("realtime-sources")))
            }
        }
        @if !figures["rounded_to"].is_null() {
            p.note { (lang.t("realtime-rounded")) }
        }
        p.note { (lang.t("realtime-live")) " " a href=(view.link(&here, |_| {})) { (lang.t("realtime-refresh")) } }
    };
    let head = html! { script src=(script.path()) integrity=(script.integrity) defer {} };
    layout(lang, (&title, &here), view, Some(account), head, body)
}

/// The sign-in form: `next` is where it leads after, `message` why the
/// last attempt failed, `sso` the single sign-on button's words when it
/// is on.
pub fn sign_in(
    lang: Lang,
    (next, email): (&str, &str),
    message: Option<String>,
    sso: Option<&str>,
) -> String {
    let view = View::default();
    let body = html! {
        h1 { (lang.t("sign-in-title")) }
        p { (lang.t("sign-in-intro")) }
        @if let Some(message) = message {
            p.error role="alert" { (message) }
        }
        form.sign-in method="post" action="/sign-in" {
            input type="hidden" name="next" value=(next);
            label {
                (lang.t("sign-in-email"))
                input type="email" name="email" required autocomplete="username" maxlength="254" value=(email);
            }
            label {
                (lang.t("sign-in-password"))
                input type="password" name="password" required autocomplete="current-password" maxlength="1024";
            }
            button type="submit" { (lang.t("sign-in-submit")) }
        }
        @if let Some(label) = sso {
            form.sign-in method="get" action="/sign-in/oidc" {
                input type="hidden" name="next" value=(next);
                button type="submit" { (lang.t_with("sign-in-sso", &[("provider", Arg::Text(label.to_owned()))])) }
            }
        }
    };
    layout(
        lang,
        (&lang.t("sign-in-title"), "/sign-in"),
        &view,
        None,
        html! {},
        body,
    )
}

/// A page of ours that leads to `next` (a dashboard path) at once: after
/// single sign-on, so that the browser sends its new session.
pub fn continue_to(lang: Lang, next: &str) -> String {
    let body = html! {
        h1 { (lang.t("continue-title")) }
        p { a href=(next) { (lang.t("continue-link")) } }
    };
    let head = html! { meta http-equiv="refresh" content=(format!("0;url={next}")); };
    layout(
        lang,
        (&lang.t("continue-title"), "/sign-in"),
        &View::default(),
        None,
        head,
        body,
    )
}

/// A shared link's password form, posted to `action`.
pub fn link_password(lang: Lang, action: &str, message: Option<String>) -> String {
    let view = View::default();
    let body = html! {
        h1 { (lang.t("link-title")) }
        p { (lang.t("link-password-intro")) }
        @if let Some(message) = message {
            p.error role="alert" { (message) }
        }
        form.sign-in method="post" action=(action) {
            label {
                (lang.t("sign-in-password"))
                input type="password" name="password" required autocomplete="current-password" maxlength="1024";
            }
            button type="submit" { (lang.t("link-open")) }
        }
    };
    layout(
        lang,
        (&lang.t("link-title"), action),
        &view,
        None,
        html! {},
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_dimension_and_operator_is_named_in_both_languages() {
        for lang in Lang::ALL {
            for metric in Metric::ALL {
                let name = metric_name(lang, *metric);
                assert!(!name.starts_with("metric-"), "{name}");
            }
            for dimension in Dimension::ALL {
                if dimension.level() != crate::query::fields::Level::Time {
                    let name = dimension_name(lang, *dimension);
                    assert!(!name.starts_with("dim-"), "{name}");
                }
            }
            for operator in [
                Operator::Is,
                Operator::IsNot,
                Operator::Contains,
                Operator::DoesNotContain,
            ] {
                let filter = ViewFilter {
                    operator,
                    dimension: Dimension::Page,
                    value: "/a".into(),
                };
                let label = filter_label(lang, &filter);
                assert!(!label.starts_with("filter-"), "{label}");
            }
        }
        // Each operator reads differently.
        let label = |operator| {
            filter_label(
                Lang::En,
                &ViewFilter {
                    operator,
                    dimension: Dimension::Page,
                    value: "/a".into(),
                },
            )
        };
        assert_eq!(label(Operator::DoesNotContain), "Page does not contain /a");
        assert_ne!(label(Operator::Contains), label(Operator::DoesNotContain));
    }
}
