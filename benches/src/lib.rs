//! Mesure's load generator, as a library: a realistic mix of hits, open-
//! and closed-loop scheduling, and latency recording.
//!
//! Open loop sends at a constant arrival rate and measures each latency from
//! the request's *intended* send time, so a stalled server is charged for
//! the requests it delayed (no coordinated omission). Closed loop sends as
//! fast as the connections allow, for the maximum throughput.

pub mod bare;
pub mod client;
pub mod dashboard;
pub mod mix;
pub mod profile;
pub mod readme;
pub mod record;
pub mod run;
pub mod schedule;
pub mod services;
pub mod weight;
pub mod wrk;
