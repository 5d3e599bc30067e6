//! The row written to `events`, one field per column, in the table's order.

use crate::event::{Channel, Device, Kind, Tracker};
use clickhouse::Row;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Text shared by many rows (a session's acquisition, a place, a user
/// agent's facts): cloning it for each row is a reference count, not a copy.
pub type Text = Arc<str>;

/// The table the collector writes.
pub const EVENTS_TABLE: &str = "events";

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct EventRow {
    pub site_id: Text,
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
    pub referrer_host: Text,
    pub referrer_source: Text,
    pub channel: Channel,
    pub utm_source: Text,
    pub utm_medium: Text,
    pub utm_campaign: Text,
    pub utm_content: Text,
    pub utm_term: Text,
    pub country_code: Text,
    pub region: Text,
    pub city: Text,
    pub browser: Text,
    pub browser_version: Text,
    pub os: Text,
    pub os_version: Text,
    pub device: Device,
    pub props: BTreeMap<String, String>,
    pub tracker: Tracker,
}

impl EventRow {
    /// Bytes this row takes in a batch, roughly: what batching limits count.
    pub fn approximate_size(&self) -> usize {
        let strings: [&str; 18] = [
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
