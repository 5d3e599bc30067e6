//! Every metric the dashboard exposes, in one place. Labels are reports,
//! statuses and error kinds: never a site's data.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// The reports counted: the shapes a query takes, and the service's own routes.
pub const REPORTS: &[&str] = &[
    "aggregate",
    "timeseries",
    "breakdown",
    "realtime",
    "export",
    "page",
    "annotation",
    "sign_in",
    "admin",
    "other",
];

#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub request_duration: HistogramVec,
    pub query_duration: HistogramVec,
    pub query_errors: IntCounterVec,
    pub sites: IntGauge,
    pub sealed_days: IntCounter,
    pub unsealed_days: IntGauge,
    pub seal_errors: IntCounter,
    pub seal_duration: Histogram,
    pub sealed_answers: IntCounterVec,
    pub audit_errors: IntCounter,
    pub expiry_runs: IntCounterVec,
    pub expiry_last_run: IntGauge,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let metrics = Metrics {
            requests: IntCounterVec::new(
                Opts::new(
                    "mesure_dashboard_requests_total",
                    "Requests answered, by report and status class.",
                ),
                &["report", "status"],
            )
            .expect("valid metric"),
            request_duration: HistogramVec::new(
                HistogramOpts::new(
                    "mesure_dashboard_request_duration_seconds",
                    "Time to answer a request, by report.",
                )
                .buckets(prometheus::exponential_buckets(0.002, 2.0, 13).expect("buckets")),
                &["report"],
            )
            .expect("valid metric"),
            query_duration: HistogramVec::new(
                HistogramOpts::new(
                    "mesure_dashboard_clickhouse_query_duration_seconds",
                    "Time ClickHouse took to answer a query, by the table that answered.",
                )
                .buckets(prometheus::exponential_buckets(0.001, 2.0, 14).expect("buckets")),
                &["source"],
            )
            .expect("valid metric"),
            query_errors: IntCounterVec::new(
                Opts::new(
                    "mesure_dashboard_clickhouse_errors_total",
                    "Queries ClickHouse did not answer, by kind (timeout, error).",
                ),
                &["kind"],
            )
            .expect("valid metric"),
            sites: IntGauge::new("mesure_dashboard_sites", "Sites in the registry.")
                .expect("valid metric"),
            sealed_days: IntCounter::new(
                "mesure_dashboard_seals_total",
                "Days of a site sealed (again, when late hits changed them).",
            )
            .expect("valid metric"),
            unsealed_days: IntGauge::new(
                "mesure_dashboard_seals_pending",
                "Finished days of a site not sealed yet, after the last pass.",
            )
            .expect("valid metric"),
            seal_errors: IntCounter::new(
                "mesure_dashboard_seal_errors_total",
                "Sealing passes that stopped on an error.",
            )
            .expect("valid metric"),
            seal_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "mesure_dashboard_seal_pass_duration_seconds",
                    "Time a sealing pass took.",
                )
                .buckets(prometheus::exponential_buckets(0.01, 4.0, 10).expect("buckets")),
            )
            .expect("valid metric"),
            sealed_answers: IntCounterVec::new(
                Opts::new(
                    "mesure_dashboard_sealed_answers_total",
                    "Statements over sealed days, by whether memory had their rows \
                     (kept) or ClickHouse answered (read).",
                ),
                &["result"],
            )
            .expect("valid metric"),
            audit_errors: IntCounter::new(
                "mesure_dashboard_audit_errors_total",
                "Audit rows ClickHouse did not take: the log has a gap.",
            )
            .expect("valid metric"),
            expiry_runs: IntCounterVec::new(
                Opts::new(
                    "mesure_expiry_runs_total",
                    "Daily forced expiries this replica ran, by result (done, failed).",
                ),
                &["result"],
            )
            .expect("valid metric"),
            expiry_last_run: IntGauge::new(
                "mesure_expiry_last_run_timestamp_seconds",
                "When the daily forced expiry last finished, on any replica (0: never).",
            )
            .expect("valid metric"),
            registry,
        };
        for collector in [
            Box::new(metrics.requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(metrics.request_duration.clone()),
            Box::new(metrics.query_duration.clone()),
            Box::new(metrics.query_errors.clone()),
            Box::new(metrics.sites.clone()),
            Box::new(metrics.sealed_days.clone()),
            Box::new(metrics.unsealed_days.clone()),
            Box::new(metrics.seal_errors.clone()),
            Box::new(metrics.seal_duration.clone()),
            Box::new(metrics.sealed_answers.clone()),
            Box::new(metrics.audit_errors.clone()),
            Box::new(metrics.expiry_runs.clone()),
            Box::new(metrics.expiry_last_run.clone()),
        ] {
            metrics.registry.register(collector).expect("unique metric");
        }
        for report in REPORTS {
            metrics.request_duration.with_label_values(&[report]);
        }
        for kind in ["timeout", "error"] {
            metrics.query_errors.with_label_values(&[kind]);
        }
        for result in ["done", "failed"] {
            metrics.expiry_runs.with_label_values(&[result]);
        }
        for result in ["kept", "read"] {
            metrics.sealed_answers.with_label_values(&[result]);
        }
        metrics
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
