//! The pages comms teams read: server-rendered HTML that works without
//! JavaScript, in French and English, every figure from the same query
//! layer as the stats API (each panel is a stats API query, parsed and
//! checked by it).
//!
//! Routes: `/` (the sites), `/sites/{id}` (a site's overview),
//! `/sites/{id}/details/{dimension}` (a panel's whole list, searched and
//! sorted), `/sites/{id}/csv?d=DIMENSION` (that list as CSV, as the export
//! has it), `/sites/{id}/realtime`, `/assets/...` (style sheet and
//! scripts, by content hash), and the chart's notes, added and removed by
//! `POST /sites/{id}/annotations` and `/sites/{id}/annotations/{note}/delete`.

pub mod annotate;
pub mod assessment;
pub mod assets;
pub mod audit;
pub mod countries;
mod html;
pub mod i18n;
pub mod keys;
pub mod notice;
pub mod organisations;
pub mod people;
pub mod session;
pub mod settings;
pub mod share;
pub mod view;

use crate::annotations::{self, Annotation};
use crate::api::ApiError;
use crate::api::v2;
use crate::app::{AppState, FrameAncestors, ask, attachment, count, file_name, registry};
use crate::audit::{Action, Actor};
use crate::auth::{self, Viewer};
use crate::export;
use crate::query::fields::{Dimension, Metric};
use crate::query::period::Period;
use crate::query::{self, Answer, Query, QueryError};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use i18n::Lang;
use mesure_sites::Site;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;
use view::{PANELS, View};

/// Rows a panel shows; its details and CSV have them all.
pub const PANEL_ROWS: usize = 10;
/// Countries the map shades at most (there are fewer).
const MAP_ROWS: usize = 300;

/// One panel's query and answer.
#[derive(Debug, Clone)]
pub struct Figures {
    pub query: Query,
    pub answer: Answer,
}

/// A listed panel: a breakdown, with tabs or not.
#[derive(Debug, Clone)]
pub struct Panel {
    pub title_key: &'static str,
    /// Index in [`PANELS`] when it has tabs.
    pub tabs: Option<usize>,
    pub figures: Figures,
}

/// Everything a site's overview shows.
#[derive(Debug, Clone)]
pub struct Overview {
    pub site: Arc<Site>,
    pub view: View,
    pub lang: Lang,
    pub period: Period,
    pub comparison: Option<Period>,
    pub headline: Figures,
    pub chart: Figures,
    /// Every bucket of the period, in order, as the chart's rows name them.
    pub chart_labels: Vec<String>,
    pub panels: Vec<Panel>,
    /// The site's notes dated within the period.
    pub annotations: Vec<Annotation>,
    /// The site's local date, where a new note defaults to.
    pub today: chrono::NaiveDate,
    /// Where the site's pages are for this reader.
    pub here: String,
    /// Read through a shared link: no realtime, no sites, no forms.
    pub shared: bool,
}

/// A site's line on the sites page.
#[derive(Debug, Clone)]
pub struct SiteLine {
    pub site: Arc<Site>,
    pub headline: Answer,
    pub trend: Trend,
}

/// Visitors per bucket of a period, for a sparkline.
#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    /// The bucket's catalogue key (`bucket-time-day`, ...).
    pub bucket_key: String,
    pub values: Vec<f64>,
    pub period: Period,
}

/// Sites of one organisation (none: the empty name), for the roll-up.
#[derive(Debug, Clone)]
pub struct Group {
    pub organisation: String,
    pub lines: Vec<SiteLine>,
}

/// The panels without tabs: their title, dimension and metrics.
const SINGLE_PANELS: [(&str, Dimension, &[Metric]); 4] = [
    (
        "panel-goals",
        Dimension::Goal,
        &[Metric::Visitors, Metric::Events, Metric::ConversionRate],
    ),
    (
        "panel-events",
        Dimension::EventName,
        &[Metric::Visitors, Metric::Events],
    ),
    (
        "panel-outbound",
        Dimension::OutboundLink,
        &[Metric::Visitors, Metric::Events],
    ),
    (
        "panel-downloads",
        Dimension::FileDownload,
        &[Metric::Visitors, Metric::Events],
    ),
];

fn names(metrics: &[Metric]) -> Vec<&'static str> {
    metrics.iter().map(|m| m.name()).collect()
}

/// The metrics a tabbed panel shows for `dimension`.
fn panel_metrics(dimension: Dimension) -> &'static [Metric] {
    match dimension {
        Dimension::Page => &[Metric::Visitors, Metric::Pageviews],
        Dimension::EntryPage | Dimension::ExitPage => &[Metric::Visitors, Metric::Visits],
        _ => &[Metric::Visitors],
    }
}

/// A page's language: chosen in the view, else the browser's.
fn language(view: &View, headers: &HeaderMap) -> Lang {
    view.lang.unwrap_or_else(|| {
        Lang::negotiate(
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        )
    })
}

/// The stats API request of a site's view, with `body`'s fields added.
fn request(site: &Site, view: &View, now_ms: i64, body: Value) -> Result<v2::Request, ApiError> {
    let tz = site.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let mut request = json!({
        "site_id": site.id.as_ref(),
        "date_range": view.period.date_range(tz, now_ms),
        "filters": view.api_filters(),
    });
    if let (Value::Object(into), Value::Object(from)) = (&mut request, body) {
        into.extend(from);
    }
    serde_json::from_value(request).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// Parses each request as the stats API does.
fn parse_all(state: &AppState, requests: &[v2::Request]) -> Result<Vec<Query>, ApiError> {
    let (sites, goals) = registry(state)?;
    let now = (state.now_ms)();
    requests
        .iter()
        .map(|request| v2::parse(request, &sites, &goals, now))
        .collect()
}

/// Parses and runs each request, side by side.
async fn run_all(state: &AppState, requests: Vec<v2::Request>) -> Result<Vec<Figures>, ApiError> {
    run_queries(state, parse_all(state, &requests)?).await
}

/// Queries of one page in flight at once: an overview's all together, a
/// sites page of a hundred sites without flooding ClickHouse.
const PAGE_QUERIES: usize = 16;

/// Runs each query, side by side.
async fn run_queries(state: &AppState, queries: Vec<Query>) -> Result<Vec<Figures>, ApiError> {
    let slots = Arc::new(tokio::sync::Semaphore::new(PAGE_QUERIES));
    let tasks: Vec<_> = queries
        .iter()
        .map(|query| {
            let (reader, query, slots) = (state.reader.clone(), query.clone(), Arc::clone(&slots));
            tokio::spawn(async move {
                let _slot = slots.acquire_owned().await;
                query::run(&reader, &query).await
            })
        })
        .collect();
    let mut figures = Vec::new();
    for (query, task) in queries.into_iter().zip(tasks) {
        let answer = ask(state, async {
            task.await
                .unwrap_or_else(|e| Err(QueryError::Task(e.to_string())))
        })
        .await?;
        figures.push(Figures { query, answer });
    }
    Ok(figures)
}

fn comparison_body(view: &View) -> Value {
    match view.compare.mode() {
        Some(mode) => json!({"comparisons": {"mode": mode}}),
        None => json!({}),
    }
}

async fn overview_of(
    state: &AppState,
    site: Arc<Site>,
    view: View,
    lang: Lang,
) -> Result<Overview, ApiError> {
    let now = (state.now_ms)();
    let include = comparison_body(&view);
    let mut requests = vec![
        request(
            &site,
            &view,
            now,
            json!({"metrics": names(&Metric::HEADLINE), "include": include}),
        )?,
        request(
            &site,
            &view,
            now,
            json!({"metrics": [view.metric.name()], "dimensions": ["time"], "include": include}),
        )?,
    ];
    let mut shape = Vec::new();
    for (i, panel) in PANELS.iter().enumerate() {
        let dimension = view.panel_dimension(i);
        shape.push((panel.title_key, Some(i)));
        // The map shades every country; the table shows the first ones.
        let rows = if dimension == Dimension::Country {
            MAP_ROWS
        } else {
            PANEL_ROWS
        };
        let panel = (dimension, panel_metrics(dimension));
        requests.push(breakdown(&site, &view, now, panel, rows)?);
    }
    for (title, dimension, metrics) in SINGLE_PANELS {
        shape.push((title, None));
        requests.push(breakdown(
            &site,
            &view,
            now,
            (dimension, metrics),
            PANEL_ROWS,
        )?);
    }
    let queries = parse_all(state, &requests)?;
    let (period, tz) = queries
        .first()
        .map(|q| (q.period, q.tz))
        .ok_or_else(|| ApiError::Internal("overview queries missing".into()))?;
    // The notes are read beside the figures.
    let notes = {
        let (client, site_id) = (state.reader.client.clone(), site.id.clone());
        let range = (period.first, period.last);
        tokio::spawn(async move { annotations::list(&client, &site_id, range).await })
    };
    let mut figures = run_queries(state, queries).await?.into_iter();
    let annotations = match tokio::time::timeout(state.timeouts.receive, notes).await {
        Ok(Ok(listed)) => listed?,
        Ok(Err(task)) => return Err(ApiError::Internal(task.to_string())),
        Err(_) => return Err(ApiError::Unavailable("notes timed out".into())),
    };
    let (Some(headline), Some(chart)) = (figures.next(), figures.next()) else {
        return Err(ApiError::Internal("overview figures missing".into()));
    };
    let panels = shape
        .into_iter()
        .zip(figures)
        .map(|((title_key, tabs), figures)| Panel {
            title_key,
            tabs,
            figures,
        })
        .collect();
    let comparison = headline.query.comparison.map(|(_, p)| p);
    let chart_labels = time_labels(&chart.query);
    Ok(Overview {
        site,
        view,
        lang,
        period,
        comparison,
        headline,
        chart,
        chart_labels,
        panels,
        annotations,
        today: query::period::local_date(tz, now),
        here: String::new(),
        shared: false,
    })
}

/// Every bucket of a time series' period, in order, as its rows name them.
fn time_labels(query: &Query) -> Vec<String> {
    match query.dimensions.first() {
        Some(Dimension::Bucket(bucket)) => v2::time_labels(*bucket, &query.period, query.tz),
        _ => Vec::new(),
    }
}

/// A time series of one metric as a trend: every bucket, 0 where no row.
fn trend(figures: &Figures) -> Trend {
    let rows = &figures.answer.rows;
    let values = time_labels(&figures.query)
        .iter()
        .map(|label| {
            rows.iter()
                .find(|r| r.dimensions.first() == Some(label))
                .and_then(|r| r.metrics.first().copied().flatten())
                .unwrap_or(0.0)
        })
        .collect();
    let bucket_key = match figures.query.dimensions.first() {
        Some(dimension) => format!("bucket-{}", dimension.name().replace(':', "-")),
        None => "bucket-time-day".to_owned(),
    };
    Trend {
        bucket_key,
        values,
        period: figures.query.period,
    }
}

/// Sites grouped by organisation, in name order, those without one last.
fn groups(lines: Vec<SiteLine>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for line in lines {
        let organisation = line.site.organisation.clone();
        match groups.iter_mut().find(|g| g.organisation == organisation) {
            Some(group) => group.lines.push(line),
            None => groups.push(Group {
                organisation,
                lines: vec![line],
            }),
        }
    }
    groups.sort_by_key(|g| (g.organisation.is_empty(), g.organisation.to_lowercase()));
    groups
}

/// A breakdown of the view by `dimension` with `metrics`, most visitors
/// first.
fn breakdown(
    site: &Site,
    view: &View,
    now: i64,
    (dimension, metrics): (Dimension, &[Metric]),
    limit: usize,
) -> Result<v2::Request, ApiError> {
    request(
        site,
        view,
        now,
        json!({
            "metrics": names(metrics),
            "dimensions": [dimension.name()],
            "order_by": [["visitors", "desc"]],
            "pagination": {"limit": limit},
        }),
    )
}

/// A page's answer: HTML, never cached (figures change), in its language.
fn page(status: StatusCode, lang: Lang, body: String) -> Response {
    let mut response = (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::VARY, HeaderValue::from_static("Accept-Language")),
        ],
        body,
    )
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.code()),
    );
    response
}

fn error_page(error: &ApiError, lang: Lang) -> Response {
    error.finish(page(error.status(), lang, html::error(error, lang)))
}

/// Reads the view from the URL and the language, or answers the error
/// page.
fn read_view(raw: Option<&str>, headers: &HeaderMap) -> Result<(View, Lang), Box<Response>> {
    match View::parse(raw.unwrap_or("")) {
        Ok(view) => {
            let lang = language(&view, headers);
            Ok((view, lang))
        }
        Err(reason) => Err(Box::new(error_page(
            &ApiError::BadRequest(reason),
            language(&View::default(), headers),
        ))),
    }
}

/// The language an admin page's `lang` asks for, else the browser's.
fn lang_of(raw: Option<&str>, headers: &HeaderMap) -> Lang {
    let chosen = form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "lang")
        .and_then(|(_, v)| Lang::from_code(&v));
    language(
        &View {
            lang: chosen,
            ..View::default()
        },
        headers,
    )
}

/// The site `id` if `viewer` administers it.
fn administered_site(state: &AppState, viewer: &Viewer, id: &str) -> Result<Arc<Site>, ApiError> {
    let (sites, _) = registry(state)?;
    let (site, _) = v2::find_site(&sites, id)?;
    viewer.check_admin(&site)?;
    Ok(site)
}

/// An admin page's whole answer: `body` under `title`, for `account`.
fn admin_layout(
    (status, lang): (StatusCode, Lang),
    (title, here): (&str, &str),
    account: &Account,
    body: maud::Markup,
) -> Response {
    let markup = html::layout(
        lang,
        (title, here),
        &View::default(),
        Some(account),
        maud::html! {},
        body,
    );
    page(status, lang, markup)
}

/// An accounts store that fails: the page cannot be answered now.
fn store_down(error: mesure_accounts::users::AccountError) -> ApiError {
    ApiError::Unavailable(error.to_string())
}

/// An admin page, for a signed-in viewer (anyone else is sent to sign
/// in): `work`'s answer in the page's language, or the error page.
async fn admin_page(
    state: &AppState,
    (uri, raw): (&Uri, Option<&str>),
    headers: &HeaderMap,
    work: impl AsyncFnOnce(Viewer, Lang) -> Result<Response, ApiError>,
) -> Response {
    let started = Instant::now();
    let lang = lang_of(raw, headers);
    let outcome = match auth::viewer(state, headers).await {
        Ok(Some(viewer)) => work(viewer, lang).await,
        Ok(None) => Ok(to_sign_in(uri)),
        Err(error) => Err(error),
    };
    finish_admin(state, started, outcome, lang)
}

/// A form of an admin page: `work` gets its fields and the browser's
/// language; its answer, or the error page.
async fn admin_post(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    work: impl AsyncFnOnce(Vec<(String, String)>, Lang) -> Result<Response, ApiError>,
) -> Response {
    let started = Instant::now();
    let lang = language(&View::default(), headers);
    let fields: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let outcome = work(fields, lang).await;
    finish_admin(state, started, outcome, lang)
}

/// What an admin page says after a form: a message (`true`: done), and a
/// secret just made, shown once under `title` and `help`.
#[derive(Debug, Default)]
struct Notice {
    message: Option<(bool, String)>,
    made: Option<String>,
}

impl Notice {
    fn refused(message: String) -> Notice {
        Notice {
            message: Some((false, message)),
            made: None,
        }
    }

    fn markup(&self, lang: Lang, (title, help): (&str, &str)) -> maud::Markup {
        maud::html! {
            @if let Some((ok, message)) = &self.message {
                p.message role=(if *ok { "status" } else { "alert" }) { (message) }
            }
            @if let Some(made) = &self.made {
                section.card aria-labelledby="made" {
                    h2 #made { (lang.t(title)) }
                    p { (lang.t(help)) }
                    input.wide readonly value=(made) aria-labelledby="made";
                }
            }
        }
    }
}

/// An admin page's answer, or its error page; counted as `admin`.
fn finish_admin(
    state: &AppState,
    started: Instant,
    outcome: Result<Response, ApiError>,
    lang: Lang,
) -> Response {
    let response = outcome.unwrap_or_else(|error| error_page(&error, lang));
    count(state, "admin", started, &response);
    response
}

/// The signed-in user as pages show them.
#[derive(Debug, Clone)]
pub struct Account {
    pub email: String,
    pub csrf: String,
    /// Administers a site, an organisation or the instance: sees the
    /// audit log.
    pub admin: bool,
    /// Administers the instance: adds sites.
    pub superuser: bool,
    /// The organisations they administer.
    pub organisations: Vec<String>,
}

impl Account {
    fn of(viewer: &Viewer) -> Account {
        let access = &viewer.access;
        let admin = |roles: &std::collections::HashMap<String, mesure_accounts::Role>| {
            roles.values().any(|r| *r == mesure_accounts::Role::Admin)
        };
        Account {
            email: viewer.user.email.clone(),
            csrf: viewer.csrf.clone(),
            admin: access.superuser || admin(&access.sites) || admin(&access.organisations),
            superuser: access.superuser,
            organisations: access
                .organisations
                .iter()
                .filter(|(_, role)| **role == mesure_accounts::Role::Admin)
                .map(|(name, _)| name.clone())
                .collect(),
        }
    }
}

/// `303` to `location`.
pub(crate) fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(_) => (
            StatusCode::SEE_OTHER,
            [(header::LOCATION, HeaderValue::from_static("/"))],
        )
            .into_response(),
    }
}

/// The sign-in page, coming back to `uri` after.
fn to_sign_in(uri: &Uri) -> Response {
    let next = form_urlencoded::Serializer::new(String::new())
        .append_pair("next", &uri.to_string())
        .finish();
    see_other(&format!("/sign-in?{next}"))
}

/// The site `id` if the viewer may read it.
fn visible_site(state: &AppState, viewer: &Viewer, id: &str) -> Result<Arc<Site>, ApiError> {
    let (sites, _) = registry(state)?;
    let (site, _) = v2::find_site(&sites, id)?;
    viewer.check(&site)?;
    Ok(site)
}

/// How a page's reader came: with a session, or through a shared link
/// (its secret).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Who<'a> {
    Session(&'a Uri),
    Link(&'a str),
}

/// A page's reader: a signed-in viewer, or a shared link's visitor, who
/// reads its one site, under its own path, and writes nothing.
#[derive(Debug, Clone)]
pub enum Reader {
    Viewer(Box<Viewer>),
    Link {
        site: Arc<Site>,
        base: String,
        actor: Actor,
        /// The origins that may frame the link's pages, if any.
        frame: Option<Vec<String>>,
    },
}

impl Reader {
    /// The site `id` if this reader may read it (a link: its own only).
    fn site(&self, state: &AppState, id: &str) -> Result<Arc<Site>, ApiError> {
        match self {
            Reader::Viewer(viewer) => visible_site(state, viewer, id),
            Reader::Link { site, .. } => Ok(Arc::clone(site)),
        }
    }

    /// Where the site's pages are for this reader.
    fn base(&self, site: &Site) -> String {
        match self {
            Reader::Viewer(_) => format!("/sites/{}", site.id),
            Reader::Link { base, .. } => base.clone(),
        }
    }

    /// Who the audit log names.
    fn actor(&self) -> &Actor {
        match self {
            Reader::Viewer(viewer) => &viewer.actor,
            Reader::Link { actor, .. } => actor,
        }
    }

    fn account(&self) -> Option<Account> {
        match self {
            Reader::Viewer(viewer) => Some(Account::of(viewer)),
            Reader::Link { .. } => None,
        }
    }

    fn admin(&self, site: &Site) -> bool {
        matches!(self, Reader::Viewer(v) if v.role(site) == Some(mesure_accounts::Role::Admin))
    }
}

/// The reader of a request, or the answer to give instead: sign-in for a
/// page without a session; for a link, its password form or "not found".
async fn reader_of(
    state: &AppState,
    who: Who<'_>,
    headers: &HeaderMap,
    lang: Lang,
) -> Result<Reader, Response> {
    match who {
        Who::Session(uri) => match auth::viewer(state, headers).await {
            Ok(Some(viewer)) => Ok(Reader::Viewer(Box::new(viewer))),
            Ok(None) => Err(to_sign_in(uri)),
            Err(error) => Err(error_page(&error, lang)),
        },
        Who::Link(secret) => share::reader(state, secret, headers, lang).await,
    }
}

/// Answers a page: reads the view and the language from the request, finds
/// its reader (or sends them to sign in), runs `work`, and shows its HTML
/// or the error page; counted as a page.
async fn serve_page<F, Fut>(
    state: &AppState,
    (who, raw): (Who<'_>, Option<&str>),
    headers: &HeaderMap,
    work: F,
) -> Response
where
    F: FnOnce(View, Lang, Reader) -> Fut,
    Fut: Future<Output = Result<String, ApiError>>,
{
    let started = Instant::now();
    let response = match read_view(raw, headers) {
        Ok((view, lang)) => match reader_of(state, who, headers, lang).await {
            Ok(reader) => {
                let frame = match &reader {
                    Reader::Link { frame, .. } => frame.clone(),
                    Reader::Viewer(_) => None,
                };
                let mut response = match work(view, lang, reader).await {
                    Ok(body) => page(StatusCode::OK, lang, body),
                    Err(error) => error_page(&error, lang),
                };
                if let Some(sources) = frame {
                    response.extensions_mut().insert(FrameAncestors(sources));
                }
                response
            }
            Err(response) => response,
        },
        Err(response) => *response,
    };
    count(state, "page", started, &response);
    response
}

pub async fn sites_page(
    State(state): State<AppState>,
    uri: Uri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let state = &state;
    serve_page(
        state,
        (Who::Session(&uri), raw.as_deref()),
        &headers,
        |view, lang, reader| async move {
            let Reader::Viewer(viewer) = reader else {
                return Err(ApiError::UnknownSite);
            };
            let (sites, _) = registry(state)?;
            // Only the sites the viewer has a role on.
            let mut listed: Vec<Arc<Site>> =
                sites.iter().filter(|s| viewer.sees(s)).cloned().collect();
            listed.sort_by(|a, b| a.id.cmp(&b.id));
            let now = (state.now_ms)();
            let mut requests = Vec::new();
            for site in &listed {
                let include = comparison_body(&view);
                requests.push(request(
                    site,
                    &view,
                    now,
                    json!({"metrics": names(&Metric::HEADLINE), "include": include}),
                )?);
                requests.push(request(
                    site,
                    &view,
                    now,
                    json!({"metrics": ["visitors"], "dimensions": ["time"]}),
                )?);
            }
            let mut figures = run_all(state, requests).await?.into_iter();
            let mut lines = Vec::new();
            for site in listed {
                let (Some(headline), Some(series)) = (figures.next(), figures.next()) else {
                    return Err(ApiError::Internal("site figures missing".into()));
                };
                lines.push(SiteLine {
                    site,
                    headline: headline.answer,
                    trend: trend(&series),
                });
            }
            Ok::<_, ApiError>(html::sites(
                &groups(lines),
                &view,
                lang,
                &Account::of(&viewer),
            ))
        },
    )
    .await
}

pub async fn overview_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    overview_for(&state, Who::Session(&uri), &id, raw.as_deref(), &headers).await
}

/// A site's overview, for a viewer or a link's visitor.
pub(crate) async fn overview_for(
    state: &AppState,
    who: Who<'_>,
    id: &str,
    raw: Option<&str>,
    headers: &HeaderMap,
) -> Response {
    serve_page(
        state,
        (who, raw),
        headers,
        |view, lang, reader| async move {
            let site = reader.site(state, id)?;
            let admin = reader.admin(&site);
            let mut overview = overview_of(state, site, view, lang).await?;
            overview.here = reader.base(&overview.site);
            overview.shared = matches!(reader, Reader::Link { .. });
            Ok(html::overview(&overview, reader.account().as_ref(), admin))
        },
    )
    .await
}

/// The parameters named `names` taken out of a query string, and the rest
/// (the view).
fn take_params(raw: Option<&str>, names: &[&str]) -> (Vec<(String, String)>, String) {
    let mut taken = Vec::new();
    let mut rest = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if names.contains(&key.as_ref()) {
            taken.push((key.into_owned(), value.into_owned()));
        } else {
            rest.append_pair(&key, &value);
        }
    }
    (taken, rest.finish())
}

fn param<'a>(taken: &'a [(String, String)], name: &str) -> Option<&'a str> {
    taken
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A dimension a breakdown may be by.
fn breakdown_dimension(name: Option<&str>) -> Result<Dimension, ApiError> {
    name.and_then(Dimension::parse)
        .filter(|d| d.level() != query::fields::Level::Time)
        .ok_or_else(|| ApiError::BadRequest(format!("no dimension is named {name:?} (d=)")))
}

/// A panel's whole list as CSV: `d=` names the dimension, the rest is the
/// view.
pub async fn panel_csv(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    csv_for(&state, Who::Session(&uri), &id, raw.as_deref(), &headers).await
}

/// A panel's CSV, for a viewer or a link's visitor.
pub(crate) async fn csv_for(
    state: &AppState,
    who: Who<'_>,
    id: &str,
    raw: Option<&str>,
    headers: &HeaderMap,
) -> Response {
    let started = Instant::now();
    let (taken, rest) = take_params(raw, &["d"]);
    let (view, lang) = match read_view(Some(&rest), headers) {
        Ok(read) => read,
        Err(response) => return *response,
    };
    let outcome = async {
        let reader = match reader_of(state, who, headers, lang).await {
            Ok(reader) => reader,
            Err(response) => return Ok(response),
        };
        let dimension = breakdown_dimension(param(&taken, "d"))?;
        let site = reader.site(state, id)?;
        // The same list as the export's file of this breakdown.
        let metrics = export::metrics_for(dimension);
        let request = breakdown(
            &site,
            &view,
            (state.now_ms)(),
            (dimension, &metrics),
            v2::MAX_LIMIT,
        )?;
        let figures = run_all(state, vec![request]).await?;
        let figures = figures
            .first()
            .ok_or_else(|| ApiError::Internal("no answer".into()))?;
        let name = file_name(&figures.query, "csv");
        crate::audit::note(state, reader.actor(), Action::Export, &site.id, &name).await;
        Ok::<_, ApiError>(attachment(
            "text/csv; charset=utf-8",
            &name,
            export::csv(&figures.query, &figures.answer).into_bytes(),
        ))
    }
    .await;
    let response = outcome.unwrap_or_else(|error| error_page(&error, lang));
    count(state, "export", started, &response);
    response
}

/// Longest search of a details page.
const MAX_SEARCH: usize = 200;
/// Rows a details page shows at most (its CSV has them all).
pub const DETAILS_ROWS: usize = 1000;

/// `/sites/{id}/details/{dimension}`: the whole list, searched (`q`, any
/// part of the label, whatever the case) and sorted (`sort`, `dir`).
pub async fn details_page(
    State(state): State<AppState>,
    Path((id, dimension)): Path<(String, String)>,
    uri: Uri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    details_for(
        &state,
        Who::Session(&uri),
        (&id, &dimension),
        raw.as_deref(),
        &headers,
    )
    .await
}

/// A panel's details page, for a viewer or a link's visitor.
pub(crate) async fn details_for(
    state: &AppState,
    who: Who<'_>,
    (id, dimension): (&str, &str),
    raw: Option<&str>,
    headers: &HeaderMap,
) -> Response {
    let (taken, rest) = take_params(raw, &["q", "sort", "dir"]);
    serve_page(
        state,
        (who, Some(&rest)),
        headers,
        |view, lang, reader| async move {
            let dimension = breakdown_dimension(Some(dimension))?;
            let search = param(&taken, "q").unwrap_or("").trim();
            if search.chars().count() > MAX_SEARCH {
                return Err(ApiError::BadRequest(format!(
                    "a search longer than {MAX_SEARCH} characters"
                )));
            }
            // Every metric the export has for it.
            let metrics = export::metrics_for(dimension);
            let sort = match param(&taken, "sort") {
                None => metrics[0],
                Some(name) => metrics
                    .iter()
                    .copied()
                    .find(|m| m.name() == name)
                    .ok_or_else(|| ApiError::BadRequest(format!("sort {name:?}")))?,
            };
            let descending = match param(&taken, "dir") {
                None | Some("desc") => true,
                Some("asc") => false,
                Some(other) => return Err(ApiError::BadRequest(format!("dir {other:?}"))),
            };
            let site = reader.site(state, id)?;
            let mut request = breakdown(
                &site,
                &view,
                (state.now_ms)(),
                (dimension, &metrics),
                v2::MAX_LIMIT,
            )?;
            request.order_by = vec![(
                sort.name().to_owned(),
                if descending { "desc" } else { "asc" }.to_owned(),
            )];
            let mut figures = run_all(state, vec![request])
                .await?
                .pop()
                .ok_or_else(|| ApiError::Internal("no answer".into()))?;
            if !search.is_empty() {
                let wanted = search.to_lowercase();
                figures.answer.rows.retain(|row| {
                    row.dimensions
                        .first()
                        .is_some_and(|d| d.to_lowercase().contains(&wanted))
                });
                figures.answer.total_rows = figures.answer.rows.len();
            }
            figures.answer.rows.truncate(DETAILS_ROWS);
            Ok::<_, ApiError>(html::details(&html::Details {
                account: reader.account().as_ref(),
                home: reader.base(&site),
                site: &site,
                view: &view,
                lang,
                figures: &figures,
                search,
                sort,
                descending,
            }))
        },
    )
    .await
}

/// `/sites/{id}/realtime`: visitors now, the pages they read, where they
/// came from; the page's script refreshes them.
pub async fn realtime_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let state = &state;
    serve_page(
        state,
        (Who::Session(&uri), raw.as_deref()),
        &headers,
        |view, lang, reader| async move {
            let Reader::Viewer(viewer) = reader else {
                return Err(ApiError::UnknownSite);
            };
            let (sites, _) = registry(state)?;
            let base = v2::site_query(&sites, &id)?;
            viewer.check(&base.site)?;
            let figures = ask(
                state,
                query::realtime::realtime(&state.reader, &base, (state.now_ms)()),
            )
            .await?;
            Ok::<_, ApiError>(html::realtime(
                &base.site,
                &view,
                lang,
                &figures,
                &Account::of(&viewer),
            ))
        },
    )
    .await
}
