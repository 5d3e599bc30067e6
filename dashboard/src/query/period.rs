//! Date ranges, resolved in the site's time zone into the instants they
//! cover, and the periods they are compared with.

use super::fields::Bucket;
use chrono::{DateTime, Datelike, Days, FixedOffset, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// A range as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateRange {
    /// Today.
    Day,
    /// The last N days, today included.
    Days(u32),
    /// The calendar month so far.
    Month,
    /// The last N calendar months, this one included.
    Months(u32),
    /// The calendar year so far.
    Year,
    /// Whole days, both included.
    Dates(NaiveDate, NaiveDate),
    /// Instants, both included (to the second).
    Instants(DateTime<FixedOffset>, DateTime<FixedOffset>),
}

/// Nothing older is kept (the longest retention allowed), nor asked for.
pub const MAX_DAYS: i64 = 800;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error(
        "invalid date_range {0:?}: use day, 7d, 28d, 30d, 91d, month, 6mo, 12mo, year, or two ISO 8601 dates or date-times"
    )]
    Invalid(String),
    #[error("date_range ends before it starts")]
    Backwards,
    #[error("date_range spans more than {MAX_DAYS} days")]
    TooLong,
}

impl DateRange {
    pub fn parse_name(name: &str) -> Result<DateRange, PeriodError> {
        Ok(match name {
            "day" => DateRange::Day,
            "7d" => DateRange::Days(7),
            "28d" => DateRange::Days(28),
            "30d" => DateRange::Days(30),
            "91d" => DateRange::Days(91),
            "month" => DateRange::Month,
            "6mo" => DateRange::Months(6),
            "12mo" => DateRange::Months(12),
            "year" => DateRange::Year,
            other => return Err(PeriodError::Invalid(other.to_owned())),
        })
    }

    /// Two ISO 8601 dates, or two date-times with their offsets.
    pub fn parse_pair(from: &str, to: &str) -> Result<DateRange, PeriodError> {
        let invalid = || PeriodError::Invalid(format!("[{from:?}, {to:?}]"));
        let range = match (
            NaiveDate::parse_from_str(from, "%Y-%m-%d"),
            NaiveDate::parse_from_str(to, "%Y-%m-%d"),
        ) {
            (Ok(a), Ok(b)) => DateRange::Dates(a, b),
            _ => DateRange::Instants(
                DateTime::parse_from_rfc3339(from).map_err(|_| invalid())?,
                DateTime::parse_from_rfc3339(to).map_err(|_| invalid())?,
            ),
        };
        Ok(range)
    }
}

/// A range resolved: `[start_ms, end_ms)` in UTC milliseconds, and the local
/// dates it was asked as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start_ms: i64,
    pub end_ms: i64,
    /// The first and last local day covered.
    pub first: NaiveDate,
    pub last: NaiveDate,
    /// Whether it was asked as instants rather than whole days.
    pub instants: bool,
}

/// What a period is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// As long, just before.
    PreviousPeriod,
    /// The same dates, a year before.
    YearOverYear,
}

impl Comparison {
    pub fn parse(name: &str) -> Option<Comparison> {
        match name {
            "previous_period" => Some(Comparison::PreviousPeriod),
            "year_over_year" => Some(Comparison::YearOverYear),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Comparison::PreviousPeriod => "previous_period",
            Comparison::YearOverYear => "year_over_year",
        }
    }
}

fn limits() -> (NaiveDate, NaiveDate) {
    (
        NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default(),
        NaiveDate::from_ymd_opt(2100, 1, 1).unwrap_or_default(),
    )
}

/// The local date in `tz` of an instant in UTC milliseconds.
pub fn local_date(tz: Tz, ms: i64) -> NaiveDate {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&tz)
        .date_naive()
}

/// Local midnight of `date` in `tz`, in UTC milliseconds. A midnight that a
/// clock change skips is the first instant of that day.
pub fn midnight_ms(tz: Tz, date: NaiveDate) -> i64 {
    let mut local = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    for _ in 0..4 {
        if let Some(at) = tz.from_local_datetime(&local).earliest() {
            return at.timestamp_millis();
        }
        local += chrono::Duration::minutes(30);
    }
    Utc.from_utc_datetime(&local).timestamp_millis()
}

impl Period {
    /// The instants `[start_ms, end_ms)` of this period, read as such.
    pub fn slice(&self, start_ms: i64, end_ms: i64) -> Period {
        Period {
            start_ms,
            end_ms,
            instants: true,
            ..*self
        }
    }

    /// Whole local days from `first` to `last`, both included.
    pub fn days(tz: Tz, first: NaiveDate, last: NaiveDate) -> Result<Period, PeriodError> {
        let (min, max) = limits();
        if first < min || last > max {
            return Err(PeriodError::Invalid(format!("{first} to {last}")));
        }
        if last < first {
            return Err(PeriodError::Backwards);
        }
        if (last - first).num_days() >= MAX_DAYS {
            return Err(PeriodError::TooLong);
        }
        Ok(Period {
            start_ms: midnight_ms(tz, first),
            end_ms: midnight_ms(tz, last + Days::new(1)),
            first,
            last,
            instants: false,
        })
    }

    /// Resolves `range` in `tz`, today being the local date at `now_ms`.
    pub fn resolve(range: &DateRange, tz: Tz, now_ms: i64) -> Result<Period, PeriodError> {
        let today = local_date(tz, now_ms);
        let first_of_month = today.with_day(1).unwrap_or(today);
        let month_end = |first: NaiveDate| {
            first
                .checked_add_months(Months::new(1))
                .and_then(|next| next.pred_opt())
                .unwrap_or(first)
        };
        match range {
            DateRange::Day => Period::days(tz, today, today),
            DateRange::Days(n) => {
                Period::days(tz, today - Days::new(u64::from(n.saturating_sub(1))), today)
            }
            DateRange::Month => Period::days(tz, first_of_month, month_end(first_of_month)),
            DateRange::Months(n) => Period::days(
                tz,
                first_of_month
                    .checked_sub_months(Months::new(n.saturating_sub(1)))
                    .unwrap_or(first_of_month),
                month_end(first_of_month),
            ),
            DateRange::Year => Period::days(
                tz,
                NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today),
                NaiveDate::from_ymd_opt(today.year(), 12, 31).unwrap_or(today),
            ),
            DateRange::Dates(first, last) => Period::days(tz, *first, *last),
            DateRange::Instants(from, to) => {
                let (start_ms, end_ms) = (from.timestamp_millis(), to.timestamp_millis() + 1000);
                let mut period = Period::days(
                    tz,
                    from.with_timezone(&tz).date_naive(),
                    to.with_timezone(&tz).date_naive(),
                )?;
                if end_ms <= start_ms {
                    return Err(PeriodError::Backwards);
                }
                period.start_ms = start_ms;
                period.end_ms = end_ms;
                period.instants = true;
                Ok(period)
            }
        }
    }

    /// The period this one is compared with.
    pub fn compared(&self, tz: Tz, with: Comparison) -> Result<Period, PeriodError> {
        if self.instants {
            let len = self.end_ms - self.start_ms;
            let shift = match with {
                Comparison::PreviousPeriod => len,
                Comparison::YearOverYear => 365 * 86_400_000,
            };
            return Ok(Period {
                start_ms: self.start_ms - shift,
                end_ms: self.end_ms - shift,
                first: self.first - Days::new(u64::try_from(shift / 86_400_000).unwrap_or(0)),
                last: self.last - Days::new(u64::try_from(shift / 86_400_000).unwrap_or(0)),
                instants: true,
            });
        }
        match with {
            Comparison::PreviousPeriod => {
                let days = u64::try_from((self.last - self.first).num_days() + 1).unwrap_or(1);
                Period::days(
                    tz,
                    self.first - Days::new(days),
                    self.last - Days::new(days),
                )
            }
            Comparison::YearOverYear => Period::days(
                tz,
                self.first
                    .checked_sub_months(Months::new(12))
                    .unwrap_or(self.first),
                self.last
                    .checked_sub_months(Months::new(12))
                    .unwrap_or(self.last),
            ),
        }
    }

    /// The bucket `time` means for this period.
    pub fn natural_bucket(&self) -> Bucket {
        let days = (self.last - self.first).num_days() + 1;
        if days <= 1 {
            Bucket::Hour
        } else if days <= 92 {
            Bucket::Day
        } else {
            Bucket::Month
        }
    }

    /// The range as the response echoes it.
    pub fn labels(&self, tz: Tz) -> [String; 2] {
        if self.instants {
            let at = |ms: i64| {
                DateTime::from_timestamp_millis(ms)
                    .unwrap_or_default()
                    .with_timezone(&tz)
                    .to_rfc3339()
            };
            [at(self.start_ms), at(self.end_ms - 1000)]
        } else {
            [self.first.to_string(), self.last.to_string()]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
    }

    fn utc(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .expect("instant")
            .timestamp_millis()
    }

    const PARIS: Tz = chrono_tz::Europe::Paris;

    #[test]
    fn days_are_local() {
        let p = Period::days(PARIS, date("2026-12-01"), date("2026-12-01")).expect("period");
        assert_eq!(p.start_ms, utc("2026-11-30T23:00:00Z"));
        assert_eq!(p.end_ms, utc("2026-12-01T23:00:00Z"));
        // A summer day, in Nouméa, in Cayenne.
        let p = Period::days(PARIS, date("2026-07-01"), date("2026-07-01")).expect("period");
        assert_eq!(p.start_ms, utc("2026-06-30T22:00:00Z"));
        let noumea = chrono_tz::Pacific::Noumea;
        let p = Period::days(noumea, date("2026-07-01"), date("2026-07-02")).expect("period");
        assert_eq!(p.start_ms, utc("2026-06-30T13:00:00Z"));
        assert_eq!(p.end_ms, utc("2026-07-02T13:00:00Z"));
        let cayenne = chrono_tz::America::Cayenne;
        let p = Period::days(cayenne, date("2026-07-01"), date("2026-07-01")).expect("period");
        assert_eq!(p.start_ms, utc("2026-07-01T03:00:00Z"));
    }

    #[test]
    fn names_resolve_from_today() {
        // 2026-12-02 00:30 in Paris is still 1 December in UTC.
        let now = utc("2026-12-01T23:30:00Z");
        let resolve = |name: &str| {
            let p = Period::resolve(&DateRange::parse_name(name).expect("name"), PARIS, now)
                .expect("period");
            (p.first.to_string(), p.last.to_string())
        };
        assert_eq!(resolve("day"), ("2026-12-02".into(), "2026-12-02".into()));
        assert_eq!(resolve("7d"), ("2026-11-26".into(), "2026-12-02".into()));
        assert_eq!(resolve("30d"), ("2026-11-03".into(), "2026-12-02".into()));
        assert_eq!(resolve("month"), ("2026-12-01".into(), "2026-12-31".into()));
        assert_eq!(resolve("6mo"), ("2026-07-01".into(), "2026-12-31".into()));
        assert_eq!(resolve("12mo"), ("2026-01-01".into(), "2026-12-31".into()));
        assert_eq!(resolve("year"), ("2026-01-01".into(), "2026-12-31".into()));
    }

    #[test]
    fn comparisons() {
        let p = Period::days(PARIS, date("2026-11-01"), date("2026-11-30")).expect("period");
        let previous = p
            .compared(PARIS, Comparison::PreviousPeriod)
            .expect("previous");
        assert_eq!(
            (previous.first, previous.last),
            (date("2026-10-02"), date("2026-10-31"))
        );
        let year = p.compared(PARIS, Comparison::YearOverYear).expect("year");
        assert_eq!(
            (year.first, year.last),
            (date("2025-11-01"), date("2025-11-30"))
        );
    }

    #[test]
    fn bad_ranges_are_refused() {
        assert!(DateRange::parse_name("1000d").is_err());
        assert!(DateRange::parse_pair("2026-13-01", "2026-12-01").is_err());
        assert!(DateRange::parse_pair("'; DROP TABLE events", "2026-12-01").is_err());
        let backwards = DateRange::parse_pair("2026-12-02", "2026-12-01").expect("dates");
        assert_eq!(
            Period::resolve(&backwards, PARIS, 0),
            Err(PeriodError::Backwards)
        );
        let long = DateRange::parse_pair("2020-01-01", "2026-12-01").expect("dates");
        assert_eq!(Period::resolve(&long, PARIS, 0), Err(PeriodError::TooLong));
        let far = DateRange::parse_pair("9999-01-01", "9999-01-02").expect("dates");
        assert!(Period::resolve(&far, PARIS, 0).is_err());
    }

    #[test]
    fn instants_keep_their_seconds() {
        let range = DateRange::parse_pair("2026-12-01T12:00:00+01:00", "2026-12-01T15:59:59+01:00")
            .expect("instants");
        let p = Period::resolve(&range, PARIS, 0).expect("period");
        assert_eq!(p.start_ms, utc("2026-12-01T11:00:00Z"));
        assert_eq!(p.end_ms, utc("2026-12-01T15:00:00Z"));
        assert_eq!(p.natural_bucket(), Bucket::Hour);
    }
}
