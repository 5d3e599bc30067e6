//! When each request is meant to be sent, in open loop.

use std::time::{Duration, Instant};

/// A constant arrival rate from a start time.
#[derive(Debug, Clone, Copy)]
pub struct OpenLoop {
    start: Instant,
    rate: f64,
}

impl OpenLoop {
    pub fn new(start: Instant, rate_per_second: f64) -> OpenLoop {
        OpenLoop {
            start,
            rate: rate_per_second.max(f64::MIN_POSITIVE),
        }
    }

    /// The intended send time of the `i`-th request (from 0).
    pub fn intended(&self, i: u64) -> Instant {
        self.start + Duration::from_secs_f64(i as f64 / self.rate)
    }

    /// How many requests the schedule holds in `duration`.
    pub fn count(&self, duration: Duration) -> u64 {
        (duration.as_secs_f64() * self.rate).floor() as u64
    }

    /// The latency of a request, from when it was meant to leave.
    pub fn latency(&self, i: u64, done: Instant) -> Duration {
        done.saturating_duration_since(self.intended(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_evenly_spaced_at_the_rate() {
        let start = Instant::now();
        let schedule = OpenLoop::new(start, 1000.0);
        assert_eq!(schedule.intended(0), start);
        assert_eq!(schedule.intended(1000) - start, Duration::from_secs(1));
        assert_eq!(schedule.intended(250) - start, Duration::from_millis(250));
        assert_eq!(schedule.count(Duration::from_secs(60)), 60_000);
        let slow = OpenLoop::new(start, 0.5);
        assert_eq!(slow.intended(3) - start, Duration::from_secs(6));
    }

    #[test]
    fn a_late_send_is_charged_from_its_intended_time() {
        let start = Instant::now();
        let schedule = OpenLoop::new(start, 100.0);
        // Request 10 was meant to leave at +100 ms; it completed at +350 ms
        // because the server stalled: its latency is 250 ms, not the 1 ms
        // the wire saw after it finally left.
        let done = start + Duration::from_millis(350);
        assert_eq!(schedule.latency(10, done), Duration::from_millis(250));
        // Completing before the intended time (clock jitter) counts as zero.
        assert_eq!(schedule.latency(10, start), Duration::ZERO);
    }
}
