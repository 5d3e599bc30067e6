//! What a query may ask for: metrics and dimensions, each a closed set with
//! its public name (Plausible's Stats API names where Plausible has one) and
//! the SQL it reads. SQL comes only from here, never from request text.

/// A number computed over the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Unique visitors: a visitor id lives one UTC day, so a person counts
    /// once a day (the sum of each day's unique visitors).
    Visitors,
    /// Visits started in the range.
    Visits,
    Pageviews,
    /// Pageviews of the visits started in the range ÷ those visits.
    ViewsPerVisit,
    /// Percentage of visits of one hit.
    BounceRate,
    /// Mean seconds from a visit's first hit to its last.
    VisitDuration,
    /// Every hit: page views, custom events, outbound links, downloads.
    Events,
    /// Visitors of the row ÷ visitors of the whole filtered range, in percent.
    Percentage,
    /// Visitors who reached a goal ÷ visitors of the range, in percent.
    ConversionRate,
}

impl Metric {
    /// A site's headline figures, in the order they are shown.
    pub const HEADLINE: [Metric; 6] = [
        Metric::Visitors,
        Metric::Visits,
        Metric::Pageviews,
        Metric::ViewsPerVisit,
        Metric::BounceRate,
        Metric::VisitDuration,
    ];

    pub const ALL: &[Metric] = &[
        Metric::Visitors,
        Metric::Visits,
        Metric::Pageviews,
        Metric::ViewsPerVisit,
        Metric::BounceRate,
        Metric::VisitDuration,
        Metric::Events,
        Metric::Percentage,
        Metric::ConversionRate,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::Visitors => "visitors",
            Metric::Visits => "visits",
            Metric::Pageviews => "pageviews",
            Metric::ViewsPerVisit => "views_per_visit",
            Metric::BounceRate => "bounce_rate",
            Metric::VisitDuration => "visit_duration",
            Metric::Events => "events",
            Metric::Percentage => "percentage",
            Metric::ConversionRate => "conversion_rate",
        }
    }

    pub fn parse(name: &str) -> Option<Metric> {
        Metric::ALL.iter().copied().find(|m| m.name() == name)
    }

    /// Computed from whole visits: meaningless per page or event.
    pub fn is_visit_level(self) -> bool {
        matches!(
            self,
            Metric::ViewsPerVisit | Metric::BounceRate | Metric::VisitDuration
        )
    }

    /// A count: what the small-count rule hides.
    pub fn is_count(self) -> bool {
        matches!(
            self,
            Metric::Visitors | Metric::Visits | Metric::Pageviews | Metric::Events
        )
    }
}

/// A time bucket, in the site's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    Hour,
    Day,
    Week,
    Month,
}

impl Bucket {
    pub fn name(self) -> &'static str {
        match self {
            Bucket::Hour => "time:hour",
            Bucket::Day => "time:day",
            Bucket::Week => "time:week",
            Bucket::Month => "time:month",
        }
    }

    /// The bucket's label for the instant column `ts`, as ISO 8601 text in
    /// the time zone bound by the `?` that follows it.
    pub fn sql(self, ts: &'static str) -> String {
        match self {
            Bucket::Hour => format!("formatDateTime(toStartOfHour({ts}, ?), '%Y-%m-%dT%H:00:00')"),
            Bucket::Day => format!("toString(toDate({ts}, ?))"),
            Bucket::Week => format!("toString(toMonday({ts}, ?))"),
            Bucket::Month => format!("toString(toStartOfMonth({ts}, ?))"),
        }
    }
}

impl Bucket {
    /// The bucket's label for a local date given by `date` (SQL of type
    /// `Date`), as [`Bucket::sql`] gives it. Hours have none.
    pub fn date_sql(self, date: &str) -> String {
        match self {
            Bucket::Hour | Bucket::Day => format!("toString({date})"),
            Bucket::Week => format!("toString(toMonday({date}))"),
            Bucket::Month => format!("toString(toStartOfMonth({date}))"),
        }
    }

    /// The first day of the bucket a local date falls in (the date itself
    /// for days and hours).
    pub fn start(self, date: chrono::NaiveDate) -> chrono::NaiveDate {
        use chrono::Datelike;
        match self {
            Bucket::Hour | Bucket::Day => date,
            Bucket::Week => {
                date - chrono::Days::new(u64::from(date.weekday().num_days_from_monday()))
            }
            Bucket::Month => date.with_day(1).unwrap_or(date),
        }
    }

    /// The bucket a local date falls in, as [`Bucket::date_sql`] labels it.
    pub fn date_label(self, date: chrono::NaiveDate) -> String {
        self.start(date).to_string()
    }
}

/// What rows are grouped or filtered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    Page,
    Hostname,
    /// A custom event's name.
    EventName,
    /// An outbound link's target, host and path.
    OutboundLink,
    /// A download's target, host and path.
    FileDownload,
    /// The site's goals a hit reached.
    Goal,
    EntryPage,
    ExitPage,
    /// The known name of the referrer (a search engine, a network), else
    /// its host, else `Direct / None`.
    Source,
    /// The referrer's host.
    Referrer,
    Channel,
    /// ISO 3166-1 alpha-2.
    Country,
    RegionName,
    CityName,
    Browser,
    BrowserVersion,
    Os,
    OsVersion,
    Device,
    UtmSource,
    UtmMedium,
    UtmCampaign,
    UtmContent,
    UtmTerm,
    /// `time`: the bucket the range suggests.
    Time,
    Bucket(Bucket),
}

/// Where a dimension's value is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// On each hit: pages and events.
    Event,
    /// The visit's: stamped on each of its hits too.
    Visit,
    /// Known only once the visit is over: entry and exit pages.
    VisitOnly,
    Time,
}

impl Dimension {
    pub const ALL: &[Dimension] = &[
        Dimension::Page,
        Dimension::Hostname,
        Dimension::EventName,
        Dimension::OutboundLink,
        Dimension::FileDownload,
        Dimension::Goal,
        Dimension::EntryPage,
        Dimension::ExitPage,
        Dimension::Source,
        Dimension::Referrer,
        Dimension::Channel,
        Dimension::Country,
        Dimension::RegionName,
        Dimension::CityName,
        Dimension::Browser,
        Dimension::BrowserVersion,
        Dimension::Os,
        Dimension::OsVersion,
        Dimension::Device,
        Dimension::UtmSource,
        Dimension::UtmMedium,
        Dimension::UtmCampaign,
        Dimension::UtmContent,
        Dimension::UtmTerm,
        Dimension::Time,
        Dimension::Bucket(Bucket::Hour),
        Dimension::Bucket(Bucket::Day),
        Dimension::Bucket(Bucket::Week),
        Dimension::Bucket(Bucket::Month),
    ];

    pub fn name(self) -> &'static str {
        match self {
            Dimension::Page => "event:page",
            Dimension::Hostname => "event:hostname",
            Dimension::EventName => "event:name",
            Dimension::OutboundLink => "event:outbound_link",
            Dimension::FileDownload => "event:file_download",
            Dimension::Goal => "event:goal",
            Dimension::EntryPage => "visit:entry_page",
            Dimension::ExitPage => "visit:exit_page",
            Dimension::Source => "visit:source",
            Dimension::Referrer => "visit:referrer",
            Dimension::Channel => "visit:channel",
            Dimension::Country => "visit:country",
            Dimension::RegionName => "visit:region_name",
            Dimension::CityName => "visit:city_name",
            Dimension::Browser => "visit:browser",
            Dimension::BrowserVersion => "visit:browser_version",
            Dimension::Os => "visit:os",
            Dimension::OsVersion => "visit:os_version",
            Dimension::Device => "visit:device",
            Dimension::UtmSource => "visit:utm_source",
            Dimension::UtmMedium => "visit:utm_medium",
            Dimension::UtmCampaign => "visit:utm_campaign",
            Dimension::UtmContent => "visit:utm_content",
            Dimension::UtmTerm => "visit:utm_term",
            Dimension::Time => "time",
            Dimension::Bucket(bucket) => bucket.name(),
        }
    }

    pub fn parse(name: &str) -> Option<Dimension> {
        Dimension::ALL.iter().copied().find(|d| d.name() == name)
    }

    pub fn level(self) -> Level {
        match self {
            Dimension::Page
            | Dimension::Hostname
            | Dimension::EventName
            | Dimension::OutboundLink
            | Dimension::FileDownload
            | Dimension::Goal => Level::Event,
            Dimension::EntryPage | Dimension::ExitPage => Level::VisitOnly,
            Dimension::Time | Dimension::Bucket(_) => Level::Time,
            _ => Level::Visit,
        }
    }

    /// Campaign fields: kept, and shown, for consent-mode sites only.
    pub fn is_campaign(self) -> bool {
        matches!(
            self,
            Dimension::UtmSource
                | Dimension::UtmMedium
                | Dimension::UtmCampaign
                | Dimension::UtmContent
                | Dimension::UtmTerm
        )
    }

    /// The value on a row of `events`.
    pub fn event_sql(self) -> Option<&'static str> {
        Some(match self {
            Dimension::Page => "path",
            Dimension::Hostname => "hostname",
            Dimension::EventName => "if(kind = 'custom', name, '')",
            Dimension::OutboundLink => "if(kind = 'outlink', name, '')",
            Dimension::FileDownload => "if(kind = 'download', name, '')",
            Dimension::Source => SOURCE,
            Dimension::Referrer => "referrer_host",
            Dimension::Channel => "toString(channel)",
            Dimension::Country => "country_code",
            Dimension::RegionName => "region",
            Dimension::CityName => "city",
            Dimension::Browser => "browser",
            Dimension::BrowserVersion => "browser_version",
            Dimension::Os => "os",
            Dimension::OsVersion => "os_version",
            Dimension::Device => "toString(device)",
            Dimension::UtmSource => "utm_source",
            Dimension::UtmMedium => "utm_medium",
            Dimension::UtmCampaign => "utm_campaign",
            Dimension::UtmContent => "utm_content",
            Dimension::UtmTerm => "utm_term",
            // Goals are the site's: see `Query::goal_sql`.
            Dimension::Goal
            | Dimension::EntryPage
            | Dimension::ExitPage
            | Dimension::Time
            | Dimension::Bucket(_) => {
                return None;
            }
        })
    }

    /// The value on a visit, as [`VISITS`] gives them.
    pub fn visit_sql(self) -> Option<&'static str> {
        Some(match self {
            Dimension::EntryPage => "entry_page",
            Dimension::ExitPage => "exit_page",
            Dimension::Hostname => "hostname",
            Dimension::Source => SOURCE,
            Dimension::Referrer => "referrer_host",
            Dimension::Channel => "toString(channel)",
            Dimension::Country => "country_code",
            Dimension::RegionName => "region",
            Dimension::CityName => "city",
            Dimension::Browser => "browser",
            Dimension::Os => "os",
            Dimension::Device => "toString(device)",
            Dimension::UtmSource => "utm_source",
            Dimension::UtmMedium => "utm_medium",
            Dimension::UtmCampaign => "utm_campaign",
            _ => return None,
        })
    }
}

/// The source of a visit, from its entry referrer.
pub const SOURCE: &str = "if(referrer_source != '', referrer_source, if(referrer_host != '', referrer_host, 'Direct / None'))";

/// One row a visit, from the `sessions` rollup, for the visits that started
/// between two bound instants of a bound site. The parts of a visit merge in
/// the background; grouping here makes the answer exact whether or not they
/// have.
pub const VISITS: &str = "SELECT session_id, any(visitor_id) AS visitor_id, \
     min(started) AS started, max(last_seen) AS last_seen, \
     sum(pageviews) AS pageviews, sum(events) AS events, \
     argMinMerge(entry_page) AS entry_page, argMaxMerge(exit_page) AS exit_page, \
     any(hostname) AS hostname, any(referrer_host) AS referrer_host, \
     any(referrer_source) AS referrer_source, any(channel) AS channel, \
     any(utm_source) AS utm_source, any(utm_medium) AS utm_medium, \
     any(utm_campaign) AS utm_campaign, any(country_code) AS country_code, \
     any(region) AS region, any(city) AS city, any(browser) AS browser, \
     any(os) AS os, any(device) AS device \
     FROM (SELECT * FROM sessions WHERE site_id = ? \
     AND started >= toDateTime(?) AND started < toDateTime(?)) \
     GROUP BY session_id";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for metric in Metric::ALL {
            assert_eq!(Metric::parse(metric.name()), Some(*metric));
        }
        for dimension in Dimension::ALL {
            assert_eq!(Dimension::parse(dimension.name()), Some(*dimension));
        }
        assert_eq!(Metric::parse("visitors; DROP TABLE events"), None);
        assert_eq!(Dimension::parse("event:props:x"), None);
    }

    #[test]
    fn every_dimension_is_read_somewhere() {
        for dimension in Dimension::ALL {
            let read = dimension.event_sql().is_some()
                || dimension.visit_sql().is_some()
                || dimension.level() == Level::Time
                || *dimension == Dimension::Goal;
            assert!(read, "{dimension:?}");
        }
    }
}
