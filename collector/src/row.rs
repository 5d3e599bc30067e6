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
    /// The hit's number in its visit, 1 for the first.
    #[serde(default)]
    pub hit: u16,
    /// Seconds since the visit's previous hit.
    #[serde(default)]
    pub gap_s: u32,
}

/// The columns [`EventRow::write_row_binary`] writes, in its order: inserts
/// name them, so a column added later with a default does not shift them.
pub const COLUMNS: &str = "site_id, ts, kind, name, visitor_id, session_id, session_start, \
hostname, path, referrer_host, referrer_source, channel, utm_source, utm_medium, utm_campaign, \
utm_content, utm_term, country_code, region, city, browser, browser_version, os, os_version, \
device, props, tracker, hit, gap_s";

impl EventRow {
    /// A page view with every enrichment empty: what tests of delivery need.
    pub fn pageview(site_id: &str, ts: i64, path: &str) -> EventRow {
        EventRow {
            site_id: site_id.into(),
            ts,
            kind: Kind::Pageview,
            name: String::new(),
            visitor_id: 0,
            session_id: 0,
            session_start: u32::try_from(ts.div_euclid(1000)).unwrap_or(0),
            hostname: String::new(),
            path: path.to_owned(),
            referrer_host: Text::default(),
            referrer_source: Text::default(),
            channel: Channel::Direct,
            utm_source: Text::default(),
            utm_medium: Text::default(),
            utm_campaign: Text::default(),
            utm_content: Text::default(),
            utm_term: Text::default(),
            country_code: Text::default(),
            region: Text::default(),
            city: Text::default(),
            browser: Text::default(),
            browser_version: Text::default(),
            os: Text::default(),
            os_version: Text::default(),
            device: Device::Unknown,
            props: BTreeMap::new(),
            tracker: Tracker::Script,
            hit: 1,
            gap_s: 0,
        }
    }

    /// Appends the row in ClickHouse's `RowBinary` format, in [`COLUMNS`]
    /// order: what the spool stores and the shipper sends as is.
    pub fn write_row_binary(&self, out: &mut Vec<u8>) {
        string(out, &self.site_id);
        out.extend_from_slice(&self.ts.to_le_bytes());
        out.push(self.kind.code());
        string(out, &self.name);
        out.extend_from_slice(&self.visitor_id.to_le_bytes());
        out.extend_from_slice(&self.session_id.to_le_bytes());
        out.extend_from_slice(&self.session_start.to_le_bytes());
        for text in [
            &self.hostname as &str,
            &self.path,
            &self.referrer_host,
            &self.referrer_source,
        ] {
            string(out, text);
        }
        out.push(self.channel.code());
        for text in [
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
        ] {
            string(out, text);
        }
        out.push(self.device.code());
        leb128(out, self.props.len());
        for (key, value) in &self.props {
            string(out, key);
            string(out, value);
        }
        out.push(self.tracker.code());
        out.extend_from_slice(&self.hit.to_le_bytes());
        out.extend_from_slice(&self.gap_s.to_le_bytes());
    }
}

/// `String`: its length as LEB128, then its bytes.
fn string(out: &mut Vec<u8>, text: &str) {
    leb128(out, text.len());
    out.extend_from_slice(text.as_bytes());
}

fn leb128(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_leb128() {
        let mut out = Vec::new();
        for n in [0, 1, 127, 128, 300, 16_384] {
            leb128(&mut out, n);
        }
        assert_eq!(out, [0, 1, 0x7f, 0x80, 0x01, 0xac, 0x02, 0x80, 0x80, 0x01]);
    }
}
