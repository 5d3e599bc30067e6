//! The routes: the stats API, the pages, signing in, health, readiness and
//! metrics. Every answer carries the security headers; pages and the API
//! need a session (see `auth`), health, readiness, metrics and assets do not.
//!
//! | route | answer |
//! | --- | --- |
//! | `POST /api/v2/query` | the stats API (Plausible's v2 shape), `400` naming what is wrong |
//! | `POST /api/v2/query/csv` | the same query's answer as CSV |
//! | `GET /api/v1/export?site_id=&date_range=` (or `&from=&to=`) | every breakdown of the period, one CSV each, in a ZIP |
//! | `GET /api/v1/realtime?site_id=` | visitors in the last 5 and 30 minutes, pages and sources now |
//! | `GET /sign-in`, `POST /sign-in`, `POST /sign-out` | a session cookie for the pages and the API |
//! | `GET /sign-in/oidc`, `GET /sign-in/oidc/callback` | single sign-on through OpenID Connect, when configured |
//! | `GET /share/{secret}` (and `/details/..`, `/csv`), `POST` (password) | a shared link: one site's overview, read-only |
//! | `GET`, `POST /sites/{id}/settings`, `POST /sites/{id}/goals` (and `/delete`) | a site's settings and goals, for its admins |
//! | `GET`, `POST /sites/{id}/users` (and `/role`, `/remove`, `/invitations/{i}/revoke`) | a site's members and invitations, for its admins |
//! | `GET`, `POST /sites/{id}/links` (and `/{link}/revoke`) | a site's shared links, for its admins |
//! | `GET /account`, `POST /account/tokens` (and `/{token}/revoke`) | the signed-in user's API tokens |
//! | `GET`, `POST /invite/{secret}` | an invitation: the new account's password, then signed in |
//! | `GET`, `POST /sites/new` | a new site, for superusers |
//! | `GET`, `POST /organisations/{name}` (and `/role`, `/remove`) | an organisation's sites and members, for its admins |
//! | `GET /sites/{id}/assessment?lang=&format=md\|html` | the site's dated self-assessment against the consent exemption |
//! | `GET /sites/{id}/notice?lang=&format=md\|html` | the site's privacy notice, to read or download |
//! | `GET /audit` (and `/audit/csv`) `?site=&action=&from=&to=` | the audit log, for admins and superusers |
//! | `GET /healthz` | `200` while the process runs |
//! | `GET /readyz` | `200` when ClickHouse answers and the sites are known; `503` otherwise |
//! | `GET /metrics` | Prometheus text format |

use crate::api::{ApiError, v2};
use crate::audit::{self, Action};
use crate::auth;
use crate::export;
use crate::metrics::Metrics;
use crate::pages;
use crate::query::{self, Reader};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mesure_schema::Timeouts;
use mesure_sites::goals::Goal;
use mesure_sites::{Registry, SiteIndex};
use serde_json::json;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

/// Largest request body.
pub const MAX_BODY: usize = 64 * 1024;

/// What the routes share.
#[derive(Clone)]
pub struct AppState {
    /// ClickHouse, bound to the Mesure database, and what is kept of it.
    pub reader: Reader,
    pub timeouts: Timeouts,
    pub registry: Arc<Registry>,
    /// Every site's goals, reloaded with the sites.
    pub goals: Arc<RwLock<Arc<Vec<Goal>>>>,
    pub metrics: Metrics,
    /// Milliseconds since the epoch: "today" for the periods.
    pub now_ms: Arc<dyn Fn() -> i64 + Send + Sync>,
    /// Users, roles and sessions.
    pub accounts: mesure_accounts::Store,
    pub policy: mesure_accounts::sessions::Policy,
    /// How client addresses are read (trusted proxies) and truncated.
    pub network: Arc<mesure_sites::network::Network>,
    /// Single sign-on, when configured.
    pub oidc: Option<Arc<crate::oidc::Provider>>,
    /// What the privacy notices say.
    pub notice: Arc<crate::notice::Facts>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/api/v2/query", post(stats_query))
        .route("/api/v2/query/csv", post(stats_csv))
        .route("/api/v1/realtime", get(realtime))
        .route("/api/v1/export", get(export_zip))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/", get(pages::sites_page))
        .route("/sites/{id}", get(pages::overview_page))
        .route("/sites/{id}/csv", get(pages::panel_csv))
        .route("/sites/{id}/realtime", get(pages::realtime_page))
        .route("/sites/{id}/details/{dimension}", get(pages::details_page))
        .route("/sites/{id}/annotations", post(pages::annotate::add))
        .route(
            "/sites/{id}/annotations/{note}/delete",
            post(pages::annotate::remove),
        )
        .route(
            "/sites/new",
            get(pages::settings::new_form).post(pages::settings::add),
        )
        .route(
            "/sites/{id}/settings",
            get(pages::settings::form).post(pages::settings::save),
        )
        .route("/sites/{id}/goals", post(pages::settings::add_goal))
        .route(
            "/sites/{id}/goals/delete",
            post(pages::settings::remove_goal),
        )
        .route(
            "/sites/{id}/users",
            get(pages::people::list).post(pages::people::invite),
        )
        .route("/sites/{id}/users/role", post(pages::people::change_role))
        .route("/sites/{id}/users/remove", post(pages::people::remove))
        .route(
            "/sites/{id}/users/invitations/{invitation}/revoke",
            post(pages::people::revoke),
        )
        .route(
            "/sites/{id}/links",
            get(pages::keys::links).post(pages::keys::add_link),
        )
        .route(
            "/sites/{id}/links/{link}/revoke",
            post(pages::keys::revoke_link),
        )
        .route("/account", get(pages::keys::account))
        .route("/account/tokens", post(pages::keys::add_token))
        .route(
            "/account/tokens/{token}/revoke",
            post(pages::keys::revoke_token),
        )
        .route(
            "/invite/{secret}",
            get(pages::people::open).post(pages::people::accept),
        )
        .route(
            "/organisations/{name}",
            get(pages::organisations::show).post(pages::organisations::add),
        )
        .route(
            "/organisations/{name}/role",
            post(pages::organisations::change_role),
        )
        .route(
            "/organisations/{name}/remove",
            post(pages::organisations::remove),
        )
        .route("/sites/{id}/notice", get(pages::notice::page))
        .route("/sites/{id}/assessment", get(pages::assessment::page))
        .route("/audit", get(pages::audit::page_of))
        .route("/audit/csv", get(pages::audit::csv))
        .route("/assets/{name}", get(pages::assets::serve))
        .route(
            "/sign-in",
            get(pages::session::form).post(pages::session::sign_in),
        )
        .route("/sign-out", post(pages::session::sign_out))
        .route("/sign-in/oidc", get(pages::session::oidc_start))
        .route("/sign-in/oidc/callback", get(pages::session::oidc_callback))
        .route(
            "/share/{secret}",
            get(pages::share::overview).post(pages::share::open),
        )
        .route(
            "/share/{secret}/details/{dimension}",
            get(pages::share::details),
        )
        .route("/share/{secret}/csv", get(pages::share::csv))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"error": "not_found", "message": "no such endpoint"})),
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state.network),
            auth::mark_address,
        ))
        .layer(axum::middleware::map_response(security_headers))
        // Pages, scripts and answers gzipped for the clients that ask.
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state)
}

/// The Content-Security-Policy but for `frame-ancestors`.
macro_rules! policy {
    () => {
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'; base-uri 'none'"
    };
}

/// What every answer carries: nothing runs but the dashboard's own scripts
/// and styles (no inline script), nothing is framed, sent elsewhere or
/// sniffed as another type.
pub const SECURITY_HEADERS: [(&str, &str); 5] = [
    (
        "content-security-policy",
        concat!(policy!(), "; frame-ancestors 'none'"),
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
];

/// Marks an answer that pages of these origins may frame (a shared link
/// its admins opened to embedding on the site's own hosts).
#[derive(Debug, Clone)]
pub struct FrameAncestors(pub Vec<String>);

async fn security_headers(mut response: Response) -> Response {
    let framed = response.extensions_mut().remove::<FrameAncestors>();
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    if let Some(FrameAncestors(sources)) = framed {
        let policy = format!("{}; frame-ancestors {}", policy!(), sources.join(" "));
        if let Ok(value) = HeaderValue::from_str(&policy) {
            headers.insert(header::CONTENT_SECURITY_POLICY, value);
            // `X-Frame-Options` has no list: the policy alone says who frames.
            headers.remove(header::X_FRAME_OPTIONS);
        }
    }
    response
}

/// Runs `work` against ClickHouse within the receive timeout; failures are
/// counted and answered `503`.
pub(crate) async fn ask<T>(
    state: &AppState,
    work: impl Future<Output = Result<T, query::QueryError>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(state.timeouts.receive, work).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(error)) => {
            state
                .metrics
                .query_errors
                .with_label_values(&["error"])
                .inc();
            Err(ApiError::Unavailable(error.to_string()))
        }
        Err(_) => {
            state
                .metrics
                .query_errors
                .with_label_values(&["timeout"])
                .inc();
            Err(ApiError::Unavailable("query timed out".into()))
        }
    }
}

/// The sites and goals, once known.
pub(crate) fn registry(state: &AppState) -> Result<(Arc<SiteIndex>, Arc<Vec<Goal>>), ApiError> {
    if !state.registry.is_known() {
        return Err(ApiError::Unavailable("site registry not loaded".into()));
    }
    let goals = Arc::clone(&state.goals.read().unwrap_or_else(PoisonError::into_inner));
    Ok((Arc::clone(&state.registry.current()), goals))
}

/// The report a query is counted under: its shape.
fn report(query: &query::Query) -> &'static str {
    if query.dimensions.is_empty() {
        "aggregate"
    } else if query.dimensions.len() == 1
        && query.dimensions[0].level() == query::fields::Level::Time
    {
        "timeseries"
    } else {
        "breakdown"
    }
}

/// Parses and runs a stats query for the viewer of `headers`; `report` is
/// set once it is known.
async fn answer(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    report: &mut &'static str,
) -> Result<(v2::Request, query::Query, query::Answer, auth::Viewer), ApiError> {
    let viewer = auth::api_viewer(state, headers).await?;
    let request: v2::Request = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid query: {e}")))?;
    let (sites, goals) = registry(state)?;
    let query = v2::parse(&request, &sites, &goals, (state.now_ms)())?;
    viewer.check(&query.site)?;
    auth::token_used(state, &viewer, &query.site.id).await;
    *report = self::report(&query);
    let asked = Instant::now();
    let answer = ask(state, query::run(&state.reader, &query)).await?;
    state
        .metrics
        .query_duration
        .with_label_values(&[answer.source])
        .observe(asked.elapsed().as_secs_f64());
    Ok((request, query, answer, viewer))
}

async fn stats_query(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let mut report = "other";
    let response = match answer(&state, &headers, &body, &mut report).await {
        Ok((request, query, answer, _)) => {
            axum::Json(v2::respond(&request, &query, &answer)).into_response()
        }
        Err(error) => error.into_response(),
    };
    count(&state, report, started, &response);
    response
}

/// A file to download.
pub(crate) fn attachment(content_type: &'static str, name: &str, body: Vec<u8>) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The name of a site's export over a period: the site's id (letters,
/// digits, `-`, `_`, `.`) and dates only.
pub(crate) fn file_name(query: &query::Query, extension: &str) -> String {
    let (first, last) = (query.period.first, query.period.last);
    format!("mesure-{}-{first}-{last}.{extension}", query.site.id)
}

async fn stats_csv(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let mut report = "other";
    let response = match answer(&state, &headers, &body, &mut report).await {
        Ok((_, query, answer, viewer)) => {
            let name = file_name(&query, "csv");
            audit::note(&state, &viewer.actor, Action::Export, &query.site.id, &name).await;
            attachment(
                "text/csv; charset=utf-8",
                &name,
                export::csv(&query, &answer).into_bytes(),
            )
        }
        Err(error) => error.into_response(),
    };
    count(&state, report, started, &response);
    response
}

#[derive(Debug, serde::Deserialize)]
struct ExportParams {
    site_id: String,
    #[serde(default)]
    date_range: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

async fn export_zip(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<ExportParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let started = Instant::now();
    let outcome = async {
        let viewer = auth::api_viewer(&state, &headers).await?;
        let Query(params) = params.map_err(|_| {
            ApiError::BadRequest("give site_id= and date_range=, or from= and to=".to_owned())
        })?;
        let date_range = match (&params.date_range, &params.from, &params.to) {
            (Some(name), None, None) => serde_json::json!(name),
            (None, Some(from), Some(to)) => serde_json::json!([from, to]),
            _ => {
                return Err(ApiError::BadRequest(
                    "give date_range=, or from= and to=".to_owned(),
                ));
            }
        };
        let request: v2::Request = serde_json::from_value(serde_json::json!({
            "site_id": params.site_id, "date_range": date_range, "metrics": ["visitors"],
        }))
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let (sites, goals) = registry(&state)?;
        let query = v2::parse(&request, &sites, &goals, (state.now_ms)())?;
        viewer.check(&query.site)?;
        auth::token_used(&state, &viewer, &query.site.id).await;
        let zip = ask(&state, export::zip(&state.reader, &query)).await?;
        let name = file_name(&query, "zip");
        audit::note(&state, &viewer.actor, Action::Export, &query.site.id, &name).await;
        Ok(attachment("application/zip", &name, zip))
    }
    .await;
    let response = outcome.unwrap_or_else(IntoResponse::into_response);
    count(&state, "export", started, &response);
    response
}

#[derive(Debug, serde::Deserialize)]
struct SiteParam {
    site_id: String,
}

async fn realtime(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<SiteParam>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let started = Instant::now();
    let outcome = async {
        let viewer = auth::api_viewer(&state, &headers).await?;
        let Query(params) = params.map_err(|_| ApiError::BadRequest("give site_id=".to_owned()))?;
        let (sites, _) = registry(&state)?;
        let base = v2::site_query(&sites, &params.site_id)?;
        viewer.check(&base.site)?;
        auth::token_used(&state, &viewer, &base.site.id).await;
        ask(
            &state,
            query::realtime::realtime(&state.reader, &base, (state.now_ms)()),
        )
        .await
    }
    .await;
    let response = match outcome {
        Ok(body) => axum::Json(body).into_response(),
        Err(error) => error.into_response(),
    };
    count(&state, "realtime", started, &response);
    response
}

/// Counts an answered request of `report`.
pub(crate) fn count(state: &AppState, report: &str, started: Instant, response: &Response) {
    state
        .metrics
        .request_duration
        .with_label_values(&[report])
        .observe(started.elapsed().as_secs_f64());
    let class = format!("{}xx", response.status().as_u16() / 100);
    state
        .metrics
        .requests
        .with_label_values(&[report, &class])
        .inc();
}

async fn ready(State(state): State<AppState>) -> Response {
    let ping = state.reader.client.query("SELECT 1").fetch_one::<u8>();
    let clickhouse = matches!(
        tokio::time::timeout(state.timeouts.receive, ping).await,
        Ok(Ok(_))
    );
    let sites = state.registry.is_known();
    let ready = clickhouse && sites;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(json!({"ready": ready, "checks": {"clickhouse": clickhouse, "sites": sites}})),
    )
        .into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
