//! The routes: the stats API, health, readiness and metrics.
//!
//! | route | answer |
//! | --- | --- |
//! | `POST /api/v2/query` | the stats API (Plausible's v2 shape), `400` naming what is wrong |
//! | `GET /healthz` | `200` while the process runs |
//! | `GET /readyz` | `200` when ClickHouse answers and the sites are known; `503` otherwise |
//! | `GET /metrics` | Prometheus text format |

use crate::api::{ApiError, v2};
use crate::metrics::Metrics;
use crate::query;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clickhouse::Client;
use mesure_schema::Timeouts;
use mesure_sites::Registry;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

/// Largest request body.
pub const MAX_BODY: usize = 64 * 1024;

/// What the routes share.
#[derive(Clone)]
pub struct AppState {
    /// Bound to the Mesure database.
    pub client: Client,
    pub timeouts: Timeouts,
    pub registry: Arc<Registry>,
    pub metrics: Metrics,
    /// Milliseconds since the epoch: "today" for the periods.
    pub now_ms: Arc<dyn Fn() -> i64 + Send + Sync>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/api/v2/query", post(stats_query))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"error": "not_found", "message": "no such endpoint"})),
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

async fn stats_query(State(state): State<AppState>, body: Bytes) -> Response {
    let started = Instant::now();
    let mut report = "other";
    let outcome = async {
        let request: v2::Request = serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("invalid query: {e}")))?;
        let sites = state.registry.current();
        if !state.registry.is_known() {
            return Err(ApiError::Unavailable("site registry not loaded".into()));
        }
        let query = v2::parse(&request, &sites, (state.now_ms)())?;
        report = if query.dimensions.is_empty() {
            "aggregate"
        } else if query.dimensions.len() == 1
            && query.dimensions[0].level() == query::fields::Level::Time
        {
            "timeseries"
        } else {
            "breakdown"
        };
        let asked = Instant::now();
        let answer =
            tokio::time::timeout(state.timeouts.receive, query::run(&state.client, &query)).await;
        let answer = match answer {
            Ok(Ok(answer)) => answer,
            Ok(Err(error)) => {
                state
                    .metrics
                    .query_errors
                    .with_label_values(&["error"])
                    .inc();
                return Err(ApiError::Unavailable(error.to_string()));
            }
            Err(_) => {
                state
                    .metrics
                    .query_errors
                    .with_label_values(&["timeout"])
                    .inc();
                return Err(ApiError::Unavailable("query timed out".into()));
            }
        };
        state
            .metrics
            .query_duration
            .with_label_values(&[answer.source])
            .observe(asked.elapsed().as_secs_f64());
        Ok(v2::respond(&request, &query, &answer))
    }
    .await;
    let response = match outcome {
        Ok(body) => axum::Json(body).into_response(),
        Err(error) => error.into_response(),
    };
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
    response
}

async fn ready(State(state): State<AppState>) -> Response {
    let ping = state.client.query("SELECT 1").fetch_one::<u8>();
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
