//! Annotations: dated notes on a site's chart ("campagne radio", "mise en
//! ligne du nouveau site"), written from the overview and kept in
//! ClickHouse's `annotations`, versioned like sites and goals: the newest
//! version of a note wins, and a deleted version removes it. They expire
//! with the data they describe (the retention TTL).

use chrono::{Days, NaiveDate};
use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};

/// Longest note, in characters.
pub const MAX_TEXT: usize = 200;
/// Notes a site may hold: a chart stays readable, a table stays small.
pub const MAX_PER_SITE: u64 = 1000;
/// How far from today a note may be dated, either way: beyond the longest
/// retention (25 months) there is nothing to mark.
pub const MAX_DAYS_AWAY: u64 = 800;

/// One version of a note, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct AnnotationRow {
    pub site_id: String,
    pub id: u64,
    /// Days since 1970-01-01 (ClickHouse's `Date`).
    pub date: u16,
    pub text: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted: bool,
}

/// A note as pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub id: u64,
    pub date: NaiveDate,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AnnotationError {
    #[error("a note needs 1 to {MAX_TEXT} printable characters")]
    Text,
    #[error("{0:?} is not a date (YYYY-MM-DD) within {MAX_DAYS_AWAY} days of today")]
    Date(String),
    #[error("this site already has {MAX_PER_SITE} notes: remove some first")]
    Full,
    #[error("this site has no such note")]
    Unknown,
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
    #[error("no random id: {0}")]
    Random(String),
}

impl AnnotationError {
    /// The message a page shows, in its catalogue.
    pub fn key(&self) -> &'static str {
        match self {
            AnnotationError::Text => "annotation-error-text",
            AnnotationError::Date(_) => "annotation-error-date",
            AnnotationError::Full => "annotation-error-full",
            AnnotationError::Unknown => "annotation-error-unknown",
            AnnotationError::ClickHouse(_) | AnnotationError::Random(_) => "error-unavailable",
        }
    }
}

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");

fn to_days(date: NaiveDate) -> u16 {
    u16::try_from((date - EPOCH).num_days()).unwrap_or(0)
}

fn from_days(days: u16) -> NaiveDate {
    EPOCH + Days::new(u64::from(days))
}

/// A note's date and text as a form sends them, checked; `today` is the
/// site's local date.
pub fn parse(
    date: &str,
    text: &str,
    today: NaiveDate,
) -> Result<(NaiveDate, String), AnnotationError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_TEXT || text.chars().any(char::is_control) {
        return Err(AnnotationError::Text);
    }
    let bad_date = || AnnotationError::Date(date.chars().take(40).collect());
    let parsed = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").map_err(|_| bad_date())?;
    let (earliest, latest) = (
        today.checked_sub_days(Days::new(MAX_DAYS_AWAY)),
        today.checked_add_days(Days::new(MAX_DAYS_AWAY)),
    );
    if earliest.is_none_or(|e| parsed < e) || latest.is_none_or(|l| parsed > l) {
        return Err(bad_date());
    }
    Ok((parsed, text.to_owned()))
}

/// Marks a site's mode change on its chart, at the site's local date: who
/// reads the figures sees when campaigns began or stopped being measured.
pub async fn mark_mode_change(
    client: &Client,
    site: &mesure_sites::SiteRow,
    old: mesure_sites::Mode,
    now_ms: i64,
) -> Result<u64, AnnotationError> {
    let tz = site.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let date = crate::query::period::local_date(tz, now_ms);
    let text = format!("Mode {} → {}", old.as_str(), site.mode.as_str());
    add(client, &site.site_id, (date, text), now_ms).await
}

/// The newest version of each of a site's notes, deleted ones included.
async fn versions(client: &Client, site_id: &str) -> Result<Vec<AnnotationRow>, AnnotationError> {
    Ok(client
        .query(
            "SELECT ?fields FROM annotations WHERE site_id = ? \
             ORDER BY id, updated_at DESC LIMIT 1 BY id",
        )
        .bind(site_id)
        .fetch_all()
        .await?)
}

/// A site's notes dated from `first` to `last`, in date order.
pub async fn list(
    client: &Client,
    site_id: &str,
    (first, last): (NaiveDate, NaiveDate),
) -> Result<Vec<Annotation>, AnnotationError> {
    let rows: Vec<AnnotationRow> = client
        .query(
            "SELECT ?fields FROM (SELECT * FROM annotations WHERE site_id = ? \
             ORDER BY id, updated_at DESC LIMIT 1 BY id) \
             WHERE NOT deleted AND date BETWEEN toDate(?) AND toDate(?) ORDER BY date, created_at, id",
        )
        .bind(site_id)
        .bind(first.to_string())
        .bind(last.to_string())
        .fetch_all()
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| Annotation {
            id: row.id,
            date: from_days(row.date),
            text: row.text,
        })
        .collect())
}

/// Adds a note (checked by [`parse`]) and returns its id.
pub async fn add(
    client: &Client,
    site_id: &str,
    (date, text): (NaiveDate, String),
    now_ms: i64,
) -> Result<u64, AnnotationError> {
    let live = versions(client, site_id).await?;
    if live.iter().filter(|row| !row.deleted).count() as u64 >= MAX_PER_SITE {
        return Err(AnnotationError::Full);
    }
    let id = loop {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(|e| AnnotationError::Random(e.to_string()))?;
        // Below 2^53: the id survives a JavaScript number unchanged.
        let id = u64::from_le_bytes(bytes) >> 11;
        if id != 0 && live.iter().all(|row| row.id != id) {
            break id;
        }
    };
    let row = AnnotationRow {
        site_id: site_id.to_owned(),
        id,
        date: to_days(date),
        text,
        created_at: now_ms,
        updated_at: now_ms,
        deleted: false,
    };
    mesure_sites::insert_one(client, "annotations", &row).await?;
    Ok(id)
}

/// Removes a site's note: a deleted version in the note's own partition,
/// so that merges fold them together.
pub async fn remove(
    client: &Client,
    site_id: &str,
    id: u64,
    now_ms: i64,
) -> Result<(), AnnotationError> {
    let mut row = versions(client, site_id)
        .await?
        .into_iter()
        .find(|row| row.id == id && !row.deleted)
        .ok_or(AnnotationError::Unknown)?;
    row.deleted = true;
    row.updated_at = now_ms.max(row.updated_at + 1);
    row.text.clear();
    Ok(mesure_sites::insert_one(client, "annotations", &row).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("date")
    }

    #[test]
    fn notes_are_checked() {
        let today = day("2026-12-02");
        assert_eq!(
            parse("2026-11-03", "  campagne radio ", today).expect("valid"),
            (day("2026-11-03"), "campagne radio".to_owned())
        );
        assert!(parse("2026-11-03", &"é".repeat(MAX_TEXT), today).is_ok());
        for text in ["", "   ", "a\nb", &"é".repeat(MAX_TEXT + 1)] {
            assert!(
                matches!(parse("2026-11-03", text, today), Err(AnnotationError::Text)),
                "{text:?}"
            );
        }
        for date in ["", "03/11/2026", "2026-02-30", "2020-01-01", "2029-06-01"] {
            assert!(
                matches!(parse(date, "note", today), Err(AnnotationError::Date(_))),
                "{date:?}"
            );
        }
    }

    #[test]
    fn dates_are_days_since_the_epoch() {
        for date in ["1970-01-01", "2026-12-02", "2149-06-06"] {
            assert_eq!(from_days(to_days(day(date))), day(date));
        }
        assert_eq!(to_days(day("1970-01-11")), 10);
    }
}
