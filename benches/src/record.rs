//! Latencies in an HDR histogram, and their percentiles.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::time::Duration;

/// Microsecond latencies from 1 µs to 1 minute, 3 significant digits.
#[derive(Debug, Clone)]
pub struct Recorder {
    histogram: Histogram<u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Summary {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            histogram: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
        }
    }

    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.histogram.saturating_record(micros.max(1));
    }

    pub fn merge(&mut self, other: &Recorder) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.histogram.add(&other.histogram);
    }

    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// The latency at a quantile (0.99 for p99), in milliseconds.
    pub fn quantile_ms(&self, quantile: f64) -> f64 {
        self.histogram.value_at_quantile(quantile) as f64 / 1000.0
    }

    pub fn summary(&self) -> Summary {
        Summary {
            count: self.count(),
            p50_ms: self.quantile_ms(0.5),
            p90_ms: self.quantile_ms(0.9),
            p99_ms: self.quantile_ms(0.99),
            p999_ms: self.quantile_ms(0.999),
            max_ms: self.histogram.max() as f64 / 1000.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= b * 0.002 + 0.001
    }

    #[test]
    fn percentiles_of_a_uniform_distribution() {
        let mut r = Recorder::new();
        for ms in 1..=1000 {
            r.record(Duration::from_millis(ms));
        }
        let s = r.summary();
        assert_eq!(s.count, 1000);
        assert!(close(s.p50_ms, 500.0), "{s:?}");
        assert!(close(s.p90_ms, 900.0), "{s:?}");
        assert!(close(s.p99_ms, 990.0), "{s:?}");
        assert!(close(s.p999_ms, 999.0), "{s:?}");
        assert!(close(s.max_ms, 1000.0), "{s:?}");
    }

    #[test]
    fn a_rare_stall_shows_in_the_tail_only() {
        let mut r = Recorder::new();
        for _ in 0..9990 {
            r.record(Duration::from_micros(800));
        }
        for _ in 0..10 {
            r.record(Duration::from_millis(200));
        }
        let s = r.summary();
        assert!(close(s.p99_ms, 0.8), "{s:?}");
        assert!(close(s.p999_ms, 0.8), "{s:?}");
        assert!(close(s.max_ms, 200.0), "{s:?}");
        assert!(r.quantile_ms(0.9995) > 100.0, "{s:?}");
    }

    #[test]
    fn merging_adds_counts_and_keeps_percentiles() {
        let (mut a, mut b) = (Recorder::new(), Recorder::new());
        for ms in 1..=500 {
            a.record(Duration::from_millis(ms));
        }
        for ms in 501..=1000 {
            b.record(Duration::from_millis(ms));
        }
        a.merge(&b);
        assert_eq!(a.count(), 1000);
        assert!(close(a.quantile_ms(0.5), 500.0));
    }

    #[test]
    fn sub_microsecond_and_huge_values_are_clamped_not_lost() {
        let mut r = Recorder::new();
        r.record(Duration::from_nanos(10));
        r.record(Duration::from_secs(3600));
        assert_eq!(r.count(), 2);
        assert!(r.summary().max_ms >= 59_000.0);
    }
}
