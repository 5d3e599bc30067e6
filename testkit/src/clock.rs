//! The tests' clocks. Two kinds, never mixed:
//!
//! - [`fixed_ms`]: one fixed instant, for tests whose rows stay in memory
//!   (replays, in-memory sinks). Deterministic, and never handed to code
//!   that meets a real engine.
//! - [`today_at`]: today, from the real clock, at a fixed UTC time, for
//!   tests whose rows or salts reach a real ClickHouse: its TTLs and `now()`
//!   run on the real date, so these tests pass on any day.
//!
//! The guard: `MESURE_TEST_DAYS_LATER=N` runs the suite as if it ran N days
//! after its fixed instant was written, by moving the fixed instant N days
//! into the past (ClickHouse's engine keeps the real time; its clock cannot
//! be moved). A test that hands the fixed instant to a real engine then
//! meets a TTL and fails, the day it is written rather than weeks later.
//! `make test` runs the whole suite a second time so.

use std::time::{SystemTime, UNIX_EPOCH};

/// Names the number of days the suite pretends to run after its fixed instant.
pub const DAYS_LATER_ENV: &str = "MESURE_TEST_DAYS_LATER";

pub const DAY_MS: i64 = 86_400_000;

/// 2026-11-23 10:00:00 UTC, the instant the replays were recorded at.
const FIXED_MS: i64 = 1_795_428_000_000;

/// Days the suite pretends to run later (0 unless the guard asks).
pub fn days_later() -> i64 {
    match std::env::var(DAYS_LATER_ENV) {
        Ok(days) if !days.trim().is_empty() => days
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{DAYS_LATER_ENV}={days:?} is not a whole number of days")),
        _ => 0,
    }
}

/// The fixed instant of tests whose rows never reach an engine.
pub fn fixed_ms() -> i64 {
    FIXED_MS - days_later() * DAY_MS
}

/// Milliseconds since the epoch, from the real clock.
pub fn real_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Today (UTC, by the real clock) at `hour:minute`: for tests that meet a
/// real engine.
pub fn today_at(hour: i64, minute: i64) -> i64 {
    real_now_ms().div_euclid(DAY_MS) * DAY_MS + (hour * 60 + minute) * 60_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_is_today_at_the_given_time() {
        let noon = today_at(12, 30);
        assert_eq!(noon.div_euclid(DAY_MS), real_now_ms().div_euclid(DAY_MS));
        assert_eq!(noon.rem_euclid(DAY_MS), (12 * 60 + 30) * 60_000);
    }

    #[test]
    fn the_fixed_instant_moves_back_by_the_days_asked() {
        assert_eq!(fixed_ms(), FIXED_MS - days_later() * DAY_MS);
        assert_eq!(fixed_ms().rem_euclid(DAY_MS), 10 * 3_600_000, "10:00 UTC");
    }
}
