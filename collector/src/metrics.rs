//! Every metric the collector exposes, in one place. Labels are endpoints,
//! drop reasons and error kinds: never visitor data.

use crate::event::DropReason;
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    hits_received: IntCounterVec,
    pub hits_accepted: IntCounter,
    hits_dropped: IntCounterVec,
    /// Each label's counter, looked up once rather than on every hit.
    received_by: Vec<IntCounter>,
    dropped_by: Vec<IntCounter>,
    pub queue_rows: IntGauge,
    pub batch_rows: Histogram,
    pub batch_bytes: Histogram,
    pub insert_duration: Histogram,
    pub insert_errors: IntCounterVec,
    pub rows_inserted: IntCounter,
    pub spool_bytes: IntGauge,
    pub spool_write_errors: IntCounter,
    pub spool_replays: IntCounter,
    pub spool_corrupt: IntCounter,
    pub spool_fsyncs: IntCounter,
    pub spool_unsynced_bytes: IntGauge,
    pub clickhouse_timeouts: IntCounterVec,
    pub quarantined_batches: IntCounter,
    pub quarantined_rows: IntCounter,
    pub salt_age: IntGauge,
    pub salt_days_ahead: IntGauge,
    pub geoip_age: IntGauge,
    pub sites: IntGauge,
    pub sessions: IntGauge,
    pub sessions_untracked: IntCounter,
}

/// The endpoints counted in `mesure_hits_received_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Pixel,
    Event,
    Matomo,
}

impl Endpoint {
    pub const ALL: [Endpoint; 3] = [Endpoint::Pixel, Endpoint::Event, Endpoint::Matomo];

    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Pixel => "pixel",
            Endpoint::Event => "event",
            Endpoint::Matomo => "matomo",
        }
    }
}
/// The operations counted in `mesure_clickhouse_timeouts_total`.
pub const TIMED_OPERATIONS: &[&str] = &["insert", "ping", "sites", "salts"];

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let counter_vec = |name: &str, help: &str, label: &str| {
            register(
                &registry,
                IntCounterVec::new(Opts::new(name, help), &[label]),
            )
        };
        let counter = |name: &str, help: &str| register(&registry, IntCounter::new(name, help));
        let gauge = |name: &str, help: &str| register(&registry, IntGauge::new(name, help));
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            register(
                &registry,
                Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets)),
            )
        };
        let mut metrics = Metrics {
            received_by: Vec::new(),
            dropped_by: Vec::new(),
            hits_received: counter_vec(
                "mesure_hits_received_total",
                "Tracking requests received, by endpoint.",
                "endpoint",
            ),
            hits_accepted: counter("mesure_hits_accepted_total", "Hits accepted for storage."),
            hits_dropped: counter_vec(
                "mesure_hits_dropped_total",
                "Hits acknowledged but not stored, by reason.",
                "reason",
            ),
            queue_rows: gauge(
                "mesure_queue_rows",
                "Rows waiting to be written to the spool.",
            ),
            batch_rows: histogram(
                "mesure_batch_rows",
                "Rows per insert into ClickHouse.",
                prometheus::exponential_buckets(1.0, 4.0, 10).expect("buckets"),
            ),
            batch_bytes: histogram(
                "mesure_batch_bytes",
                "Approximate bytes per insert into ClickHouse.",
                prometheus::exponential_buckets(1024.0, 4.0, 10).expect("buckets"),
            ),
            insert_duration: histogram(
                "mesure_insert_duration_seconds",
                "Time to insert one batch into ClickHouse, retries included.",
                prometheus::exponential_buckets(0.005, 2.0, 14).expect("buckets"),
            ),
            insert_errors: counter_vec(
                "mesure_insert_errors_total",
                "Failed insert attempts, by kind (transient: retried; data: not retried).",
                "kind",
            ),
            rows_inserted: counter("mesure_rows_inserted_total", "Rows stored in ClickHouse."),
            spool_bytes: gauge("mesure_spool_bytes", "Size of the spool on disk."),
            spool_write_errors: counter(
                "mesure_spool_write_errors_total",
                "Failed writes to the spool (disk full, I/O errors); their hits are shed.",
            ),
            spool_replays: counter(
                "mesure_spool_replays_total",
                "Batches sent again from the spool, after a failed insert or a restart.",
            ),
            spool_corrupt: counter(
                "mesure_spool_corrupt_records_total",
                "Corrupt spool records skipped (torn writes after a crash).",
            ),
            spool_fsyncs: counter("mesure_spool_fsyncs_total", "Spool files forced to disk."),
            spool_unsynced_bytes: gauge(
                "mesure_spool_unsynced_bytes",
                "With fsync = interval: bytes written to the spool and not yet forced to disk.",
            ),
            clickhouse_timeouts: counter_vec(
                "mesure_clickhouse_timeouts_total",
                "Requests to ClickHouse abandoned after a timeout, by operation (insert, ping, sites, salts).",
                "operation",
            ),
            quarantined_batches: counter(
                "mesure_quarantined_batches_total",
                "Batches ClickHouse refused as wrong data, set aside in the spool's quarantine.",
            ),
            quarantined_rows: counter(
                "mesure_quarantined_rows_total",
                "Rows in quarantined batches.",
            ),
            salt_age: gauge(
                "mesure_salt_age_seconds",
                "Age of the daily salt in use; -1 when there is none.",
            ),
            salt_days_ahead: gauge(
                "mesure_salts_ahead",
                "Days after today whose salt this replica holds: how long hits are still taken if ClickHouse stays away.",
            ),
            geoip_age: gauge(
                "mesure_geoip_database_age_seconds",
                "Age of the oldest GeoIP database, from its build time; -1 when none is loaded.",
            ),
            sites: gauge("mesure_sites", "Sites in the registry."),
            sessions: gauge(
                "mesure_sessions_active",
                "Sessions held in memory by this replica.",
            ),
            sessions_untracked: counter(
                "mesure_sessions_untracked_total",
                "New visits not held because the session table was full (collector.max_sessions): each of their hits counts as a visit.",
            ),
            registry,
        };
        // Every label exists from the start, so rates work before the first event.
        metrics.received_by = Endpoint::ALL
            .iter()
            .map(|endpoint| {
                metrics
                    .hits_received
                    .with_label_values(&[endpoint.as_str()])
            })
            .collect();
        metrics.dropped_by = DropReason::ALL
            .iter()
            .map(|reason| metrics.hits_dropped.with_label_values(&[reason.as_str()]))
            .collect();
        for kind in ["transient", "data"] {
            metrics.insert_errors.with_label_values(&[kind]);
        }
        for operation in TIMED_OPERATIONS {
            metrics.clickhouse_timeouts.with_label_values(&[operation]);
        }
        metrics.salt_age.set(-1);
        metrics.geoip_age.set(-1);
        metrics
    }

    /// Counts requests received at `endpoint`.
    pub fn received(&self, endpoint: Endpoint) {
        self.received_by[endpoint as usize].inc();
    }

    pub fn dropped(&self, reason: DropReason) {
        self.dropped_rows(reason, 1);
    }

    pub fn dropped_rows(&self, reason: DropReason, rows: u64) {
        // `ALL` lists the reasons in their declaration order (tested).
        self.dropped_by[reason as usize].inc_by(rows);
    }

    /// Hits dropped for `reason` so far.
    pub fn dropped_count(&self, reason: DropReason) -> u64 {
        self.dropped_by[reason as usize].get()
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for registered metrics.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Registers a metric built from constant names: failing is a bug, found by any test.
fn register<M>(registry: &Registry, metric: prometheus::Result<M>) -> M
where
    M: prometheus::core::Collector + Clone + 'static,
{
    let metric = metric.expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("unique metric");
    metric
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, prefix: &str) -> String {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_default()
            .to_owned()
    }

    #[test]
    fn each_label_counts_under_its_own_name() {
        let metrics = Metrics::new();
        for (n, reason) in DropReason::ALL.iter().enumerate() {
            metrics.dropped_rows(*reason, n as u64 + 1);
        }
        for (n, endpoint) in Endpoint::ALL.iter().enumerate() {
            for _ in 0..=n {
                metrics.received(*endpoint);
            }
        }
        let text = metrics.render();
        for (n, reason) in DropReason::ALL.iter().enumerate() {
            let prefix = format!(
                "mesure_hits_dropped_total{{reason=\"{}\"}}",
                reason.as_str()
            );
            assert_eq!(line(&text, &prefix), format!("{prefix} {}", n + 1));
            assert_eq!(metrics.dropped_count(*reason), n as u64 + 1);
        }
        for (n, endpoint) in Endpoint::ALL.iter().enumerate() {
            let prefix = format!(
                "mesure_hits_received_total{{endpoint=\"{}\"}}",
                endpoint.as_str()
            );
            assert_eq!(line(&text, &prefix), format!("{prefix} {}", n + 1));
        }
    }
}
