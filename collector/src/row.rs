//! The row written to `events`, one field per column, in the table's order.

use crate::event::{Channel, Device, Kind, Tracker};
use clickhouse::Row;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The table the collector writes.
pub const EVENTS_TABLE: &str = "events";

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct EventRow {
    pub site_id: String,
    /// `DateTime64(3)`: milliseconds since the epoch.
    pub ts: i64,
    pub kind: Kind,
    pub name: String,
    pub visitor_id: u64,
    pub session_id: u64,
    /// `DateTime`: seconds since the epoch.
    pub session_start: u32,
    pub hostname: String,
    pub path: String,
    pub referrer_host: String,
    pub referrer_source: String,
    pub channel: Channel,
    pub utm_source: String,
    pub utm_medium: String,
    pub utm_campaign: String,
    pub utm_content: String,
    pub utm_term: String,
    pub country_code: String,
    pub region: String,
    pub city: String,
    pub browser: String,
    pub browser_version: String,
    pub os: String,
    pub os_version: String,
    pub device: Device,
    pub props: BTreeMap<String, String>,
    pub tracker: Tracker,
}

impl EventRow {
    /// Bytes this row takes in a batch, roughly: what batching limits count.
    pub fn approximate_size(&self) -> usize {
        let strings = [
            &self.site_id,
            &self.name,
            &self.hostname,
            &self.path,
            &self.referrer_host,
            &self.referrer_source,
            &self.utm_source,
            &self.utm_medium,
            &self.utm_campaign,
            &self.utm_content,
            &self.utm_term,
            &self.country_code,
            &self.region,
            &self.city,
            &self.browser,
            &self.browser_version,
            &self.os,
            &self.os_version,
        ];
        let props: usize = self.props.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
        40 + strings.iter().map(|s| s.len() + 1).sum::<usize>() + props
    }
}
