CREATE TABLE mesure.annotations
(
    `site_id` String,
    `id` UInt64 COMMENT 'random, unique within the site',
    `date` Date COMMENT 'the date it marks, in the site\'s time zone',
    `text` String,
    `created_at` DateTime64(3, 'UTC'),
    `updated_at` DateTime64(3, 'UTC'),
    `deleted` Bool
)
ENGINE = ReplacingMergeTree(updated_at)
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, id)
TTL date + toIntervalMonth(6)
SETTINGS index_granularity = 8192;

CREATE TABLE mesure.audit
(
    `at` DateTime64(3, 'UTC'),
    `action` LowCardinality(String) COMMENT 'one of a closed set: sign_in, site_changed, token_used, export, ...',
    `actor` String COMMENT 'the account\'s e-mail (as typed for a refused sign-in), or the command line',
    `credential` String COMMENT 'token:ID or link:ID when one was used; empty for a session',
    `site_id` String COMMENT 'empty for what concerns no one site (a sign-in)',
    `address` String COMMENT 'the client address truncated to /24 or /48; empty from the command line',
    `detail` String COMMENT 'what changed, in a few words'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (at, site_id)
TTL toDateTime(at) + toIntervalYear(1)
SETTINGS index_granularity = 8192;

CREATE TABLE mesure.daily_breakdowns
(
    `site_id` LowCardinality(String),
    `day` Date,
    `dimension` LowCardinality(String),
    `value` String,
    `visitors` AggregateFunction(uniq, UInt64),
    `touched` AggregateFunction(uniq, UInt64) COMMENT 'visits with a hit of this value (pages, events)',
    `pageviews` SimpleAggregateFunction(sum, UInt64),
    `events` SimpleAggregateFunction(sum, UInt64),
    `visits` SimpleAggregateFunction(sum, UInt64) COMMENT 'visits started this day',
    `continued` SimpleAggregateFunction(sum, UInt64),
    `duration` SimpleAggregateFunction(sum, UInt64),
    `visit_pageviews` SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site_id, dimension, day, value)
TTL day + toIntervalMonth(6)
SETTINGS index_granularity = 1024, non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW mesure.daily_breakdowns_hits_mv TO mesure.daily_breakdowns
(
    `site_id` LowCardinality(String),
    `day` Date,
    `dimension` String,
    `value` String,
    `visitors` AggregateFunction(uniq, UInt64),
    `touched` AggregateFunction(uniq, UInt64),
    `pageviews` UInt64,
    `events` UInt64,
    `visits` UInt64,
    `continued` UInt64,
    `duration` UInt64,
    `visit_pageviews` UInt64
)
AS SELECT
    site_id,
    toDate(ts) AS day,
    d.1 AS dimension,
    d.2 AS value,
    uniqState(visitor_id) AS visitors,
    uniqState(session_id) AS touched,
    countIf(kind = 'pageview') AS pageviews,
    count() AS events,
    toUInt64(0) AS visits,
    toUInt64(0) AS continued,
    toUInt64(0) AS duration,
    toUInt64(0) AS visit_pageviews
FROM mesure.events
ARRAY JOIN arrayFilter(x -> (x.3), [('page', CAST(path, 'String'), kind = 'pageview'), ('hostname', CAST(hostname, 'String'), 1), ('event', CAST(name, 'String'), kind = 'custom'), ('outbound', CAST(name, 'String'), kind = 'outlink'), ('download', CAST(name, 'String'), kind = 'download'), ('source', CAST(if(referrer_source != '', referrer_source, if(referrer_host != '', referrer_host, 'Direct / None')), 'String'), 1), ('referrer', CAST(referrer_host, 'String'), 1), ('channel', toString(channel), 1), ('country', CAST(country_code, 'String'), 1), ('region', CAST(region, 'String'), 1), ('city', CAST(city, 'String'), 1), ('browser', CAST(browser, 'String'), 1), ('browser_version', CAST(browser_version, 'String'), 1), ('os', CAST(os, 'String'), 1), ('os_version', CAST(os_version, 'String'), 1), ('device', toString(device), 1), ('utm_source', CAST(utm_source, 'String'), 1), ('utm_medium', CAST(utm_medium, 'String'), 1), ('utm_campaign', CAST(utm_campaign, 'String'), 1), ('utm_content', CAST(utm_content, 'String'), 1), ('utm_term', CAST(utm_term, 'String'), 1)]) AS d
GROUP BY
    site_id,
    day,
    dimension,
    value;

CREATE MATERIALIZED VIEW mesure.daily_breakdowns_visits_mv TO mesure.daily_breakdowns
(
    `site_id` LowCardinality(String),
    `day` Date,
    `dimension` String,
    `value` String,
    `visitors` AggregateFunction(uniq, UInt64),
    `touched` AggregateFunction(uniq, UInt64),
    `pageviews` UInt64,
    `events` UInt64,
    `visits` UInt64,
    `continued` UInt64,
    `duration` UInt64,
    `visit_pageviews` UInt64
)
AS SELECT
    site_id,
    toDate(session_start) AS day,
    d.1 AS dimension,
    d.2 AS value,
    uniqStateIf(visitor_id, (d.1) = 'entry_page') AS visitors,
    uniqStateIf(session_id, 0) AS touched,
    toUInt64(0) AS pageviews,
    toUInt64(0) AS events,
    countIf(hit = 1) AS visits,
    countIf(hit = 2) AS continued,
    sum(toUInt64(gap_s)) AS duration,
    countIf(kind = 'pageview') AS visit_pageviews
FROM mesure.events
ARRAY JOIN arrayFilter(x -> (x.3), [('entry_page', CAST(path, 'String'), hit = 1), ('source', CAST(if(referrer_source != '', referrer_source, if(referrer_host != '', referrer_host, 'Direct / None')), 'String'), 1), ('referrer', CAST(referrer_host, 'String'), 1), ('channel', toString(channel), 1), ('country', CAST(country_code, 'String'), 1), ('region', CAST(region, 'String'), 1), ('city', CAST(city, 'String'), 1), ('browser', CAST(browser, 'String'), 1), ('browser_version', CAST(browser_version, 'String'), 1), ('os', CAST(os, 'String'), 1), ('os_version', CAST(os_version, 'String'), 1), ('device', toString(device), 1), ('utm_source', CAST(utm_source, 'String'), 1), ('utm_medium', CAST(utm_medium, 'String'), 1), ('utm_campaign', CAST(utm_campaign, 'String'), 1), ('utm_content', CAST(utm_content, 'String'), 1), ('utm_term', CAST(utm_term, 'String'), 1)]) AS d
GROUP BY
    site_id,
    day,
    dimension,
    value;

CREATE TABLE mesure.events
(
    `site_id` LowCardinality(String) COMMENT 'site id from the site registry',
    `ts` DateTime64(3, 'UTC') COMMENT 'when the collector received the hit',
    `kind` Enum8('pageview' = 1, 'custom' = 2, 'outlink' = 3, 'download' = 4),
    `name` LowCardinality(String) COMMENT 'custom event name; empty for pageviews',
    `visitor_id` UInt64 COMMENT 'keyed hash with a daily salt; unlinkable across days and sites',
    `session_id` UInt64,
    `session_start` DateTime('UTC') COMMENT 'first hit of the session',
    `hostname` LowCardinality(String),
    `path` String COMMENT 'URL path with allow-listed query parameters only, no fragment',
    `referrer_host` LowCardinality(String) COMMENT 'host of the session entry referrer; empty when direct',
    `referrer_source` LowCardinality(String) COMMENT 'known name of the referrer (search engine, social network)',
    `channel` Enum8('direct' = 0, 'search' = 1, 'social' = 2, 'email' = 3, 'other' = 4, 'campaign' = 5),
    `utm_source` LowCardinality(String) COMMENT 'campaign parameters: consent mode only',
    `utm_medium` LowCardinality(String),
    `utm_campaign` LowCardinality(String),
    `utm_content` LowCardinality(String),
    `utm_term` LowCardinality(String),
    `country_code` LowCardinality(String) COMMENT 'ISO 3166-1 alpha-2; empty when unknown',
    `region` LowCardinality(String) COMMENT 'first subdivision name',
    `city` LowCardinality(String) COMMENT 'empty when city precision is off for the site',
    `browser` LowCardinality(String),
    `browser_version` LowCardinality(String) COMMENT 'major version only',
    `os` LowCardinality(String),
    `os_version` LowCardinality(String) COMMENT 'major version only',
    `device` Enum8('unknown' = 0, 'desktop' = 1, 'mobile' = 2, 'tablet' = 3),
    `props` Map(LowCardinality(String), String) COMMENT 'custom event properties: consent mode only',
    `tracker` Enum8('pixel' = 1, 'script' = 2, 'matomo' = 3, 'plausible' = 4) COMMENT 'interface the hit came through',
    `hit` UInt16 DEFAULT 0 COMMENT 'number of the hit in its visit, 1 for the first; 0 when not recorded',
    `gap_s` UInt32 DEFAULT 0 COMMENT 'seconds since the previous hit of the visit'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (site_id, toDate(ts), visitor_id, ts)
SAMPLE BY visitor_id
TTL toDateTime(ts) + toIntervalMonth(6)
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 1000;

CREATE TABLE mesure.goals
(
    `site_id` String,
    `name` String COMMENT 'the goal as reports show it, unique per site',
    `page_pattern` String COMMENT 'page path pattern: * within a segment, ** across segments; empty for an event goal',
    `event_name` String COMMENT 'custom event name; empty for a page goal',
    `updated_at` DateTime64(3, 'UTC'),
    `deleted` Bool
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (site_id, name)
SETTINGS index_granularity = 8192;

CREATE TABLE mesure.hourly_stats
(
    `site_id` LowCardinality(String),
    `hour` DateTime('UTC'),
    `pageviews` SimpleAggregateFunction(sum, UInt64),
    `events` SimpleAggregateFunction(sum, UInt64),
    `visitors` AggregateFunction(uniq, UInt64),
    `visits` AggregateFunction(uniq, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (site_id, hour)
TTL hour + toIntervalMonth(6)
SETTINGS non_replicated_deduplication_window = 1000, index_granularity = 8192;

CREATE MATERIALIZED VIEW mesure.hourly_stats_mv TO mesure.hourly_stats
(
    `site_id` LowCardinality(String),
    `hour` DateTime('UTC'),
    `pageviews` UInt64,
    `events` UInt64,
    `visitors` AggregateFunction(uniq, UInt64),
    `visits` AggregateFunction(uniq, UInt64)
)
AS SELECT
    site_id,
    toStartOfHour(ts) AS hour,
    countIf(kind = 'pageview') AS pageviews,
    count() AS events,
    uniqState(visitor_id) AS visitors,
    uniqState(session_id) AS visits
FROM mesure.events
GROUP BY
    site_id,
    hour;

CREATE TABLE mesure.hourly_totals
(
    `site_id` LowCardinality(String),
    `hour` DateTime('UTC'),
    `visitors` AggregateFunction(uniq, UInt64),
    `pageviews` SimpleAggregateFunction(sum, UInt64),
    `events` SimpleAggregateFunction(sum, UInt64),
    `visits` SimpleAggregateFunction(sum, UInt64) COMMENT 'visits started this hour',
    `continued` SimpleAggregateFunction(sum, UInt64) COMMENT 'of them, visits with a second hit',
    `duration` SimpleAggregateFunction(sum, UInt64) COMMENT 'seconds, of the visits started this hour',
    `visit_pageviews` SimpleAggregateFunction(sum, UInt64) COMMENT 'page views of the visits started this hour'
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (site_id, hour)
TTL hour + toIntervalMonth(6)
SETTINGS index_granularity = 1024, non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW mesure.hourly_totals_hits_mv TO mesure.hourly_totals
(
    `site_id` LowCardinality(String),
    `hour` DateTime('UTC'),
    `visitors` AggregateFunction(uniq, UInt64),
    `pageviews` UInt64,
    `events` UInt64,
    `visits` UInt64,
    `continued` UInt64,
    `duration` UInt64,
    `visit_pageviews` UInt64
)
AS SELECT
    site_id,
    toStartOfHour(ts) AS hour,
    uniqState(visitor_id) AS visitors,
    countIf(kind = 'pageview') AS pageviews,
    count() AS events,
    toUInt64(0) AS visits,
    toUInt64(0) AS continued,
    toUInt64(0) AS duration,
    toUInt64(0) AS visit_pageviews
FROM mesure.events
GROUP BY
    site_id,
    hour;

CREATE MATERIALIZED VIEW mesure.hourly_totals_visits_mv TO mesure.hourly_totals
(
    `site_id` LowCardinality(String),
    `hour` DateTime('UTC'),
    `visitors` AggregateFunction(uniq, UInt64),
    `pageviews` UInt64,
    `events` UInt64,
    `visits` UInt64,
    `continued` UInt64,
    `duration` UInt64,
    `visit_pageviews` UInt64
)
AS SELECT
    site_id,
    toStartOfHour(session_start) AS hour,
    uniqStateIf(visitor_id, 0) AS visitors,
    toUInt64(0) AS pageviews,
    toUInt64(0) AS events,
    countIf(hit = 1) AS visits,
    countIf(hit = 2) AS continued,
    sum(toUInt64(gap_s)) AS duration,
    countIf(kind = 'pageview') AS visit_pageviews
FROM mesure.events
GROUP BY
    site_id,
    hour;

CREATE TABLE mesure.salts
(
    `day` Date COMMENT 'UTC day the salt is used for',
    `salt` FixedString(16),
    `created_at` DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (day, created_at)
TTL toDateTime(day, 'UTC') + toIntervalDay(2)
SETTINGS index_granularity = 8192;

CREATE TABLE mesure.schema_migrations
(
    `version` UInt32,
    `name` String,
    `checksum` String,
    `applied_at` DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY version
SETTINGS index_granularity = 8192;

CREATE TABLE mesure.sealed_days
(
    `site_id` LowCardinality(String),
    `day` Date COMMENT 'UTC day',
    `version` UInt64,
    `basis` String COMMENT 'time zone and goals the day was sealed with',
    `events` UInt64 COMMENT 'hits of the day',
    `visits` UInt64 COMMENT 'visits started in the day',
    `continued` UInt64,
    `duration` UInt64,
    `visit_pageviews` UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (site_id, day)
TTL day + toIntervalMonth(6)
SETTINGS index_granularity = 8192;

CREATE TABLE mesure.sealed_figures
(
    `site_id` LowCardinality(String),
    `day` Date COMMENT 'UTC day',
    `part` Date COMMENT 'local date of this part of the day; 1970-01-01 for the whole day',
    `dimension` LowCardinality(String) COMMENT 'total, goal, or a breakdown of daily_breakdowns',
    `value` String,
    `visitors` UInt64,
    `touched` UInt64 COMMENT 'visits with a hit of this value (pages, events, goals)',
    `pageviews` UInt64,
    `events` UInt64,
    `visits` UInt64 COMMENT 'visits started in this day or part',
    `continued` UInt64 COMMENT 'of them, visits with a second hit',
    `duration` UInt64 COMMENT 'seconds, of the visits started',
    `visit_pageviews` UInt64 COMMENT 'page views of the visits started',
    `version` UInt64 COMMENT 'when the day was sealed, in µs; readers take the version sealed_days lists'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site_id, dimension, part, day, version, value)
TTL day + toIntervalMonth(6)
SETTINGS index_granularity = 8192;

CREATE TABLE mesure.sessions
(
    `site_id` LowCardinality(String),
    `started` DateTime('UTC'),
    `session_id` UInt64,
    `visitor_id` SimpleAggregateFunction(any, UInt64),
    `last_seen` SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    `pageviews` SimpleAggregateFunction(sum, UInt64),
    `events` SimpleAggregateFunction(sum, UInt64),
    `entry_page` AggregateFunction(argMin, String, DateTime64(3, 'UTC')),
    `exit_page` AggregateFunction(argMax, String, DateTime64(3, 'UTC')),
    `hostname` SimpleAggregateFunction(any, LowCardinality(String)),
    `referrer_host` SimpleAggregateFunction(any, LowCardinality(String)),
    `referrer_source` SimpleAggregateFunction(any, LowCardinality(String)),
    `channel` SimpleAggregateFunction(any, Enum8('direct' = 0, 'search' = 1, 'social' = 2, 'email' = 3, 'other' = 4, 'campaign' = 5)),
    `utm_source` SimpleAggregateFunction(any, LowCardinality(String)),
    `utm_medium` SimpleAggregateFunction(any, LowCardinality(String)),
    `utm_campaign` SimpleAggregateFunction(any, LowCardinality(String)),
    `country_code` SimpleAggregateFunction(any, LowCardinality(String)),
    `region` SimpleAggregateFunction(any, LowCardinality(String)),
    `city` SimpleAggregateFunction(any, LowCardinality(String)),
    `browser` SimpleAggregateFunction(any, LowCardinality(String)),
    `os` SimpleAggregateFunction(any, LowCardinality(String)),
    `device` SimpleAggregateFunction(any, Enum8('unknown' = 0, 'desktop' = 1, 'mobile' = 2, 'tablet' = 3))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(started)
ORDER BY (site_id, toDate(started), session_id)
TTL started + toIntervalMonth(6)
SETTINGS non_replicated_deduplication_window = 1000, index_granularity = 8192;

CREATE MATERIALIZED VIEW mesure.sessions_mv TO mesure.sessions
(
    `site_id` LowCardinality(String),
    `started` DateTime('UTC'),
    `session_id` UInt64,
    `visitor_id` UInt64,
    `last_seen` DateTime64(3, 'UTC'),
    `pageviews` UInt64,
    `events` UInt64,
    `entry_page` AggregateFunction(argMin, String, DateTime64(3, 'UTC')),
    `exit_page` AggregateFunction(argMax, String, DateTime64(3, 'UTC')),
    `hostname` String,
    `referrer_host` String,
    `referrer_source` String,
    `channel` Enum8('direct' = 0, 'search' = 1, 'social' = 2, 'email' = 3, 'other' = 4, 'campaign' = 5),
    `utm_source` String,
    `utm_medium` String,
    `utm_campaign` String,
    `country_code` String,
    `region` String,
    `city` String,
    `browser` String,
    `os` String,
    `device` Enum8('unknown' = 0, 'desktop' = 1, 'mobile' = 2, 'tablet' = 3)
)
AS SELECT
    site_id,
    session_start AS started,
    session_id,
    any(visitor_id) AS visitor_id,
    max(ts) AS last_seen,
    countIf(kind = 'pageview') AS pageviews,
    count() AS events,
    argMinStateIf(path, ts, kind = 'pageview') AS entry_page,
    argMaxStateIf(path, ts, kind = 'pageview') AS exit_page,
    any(hostname) AS hostname,
    any(referrer_host) AS referrer_host,
    any(referrer_source) AS referrer_source,
    any(channel) AS channel,
    any(utm_source) AS utm_source,
    any(utm_medium) AS utm_medium,
    any(utm_campaign) AS utm_campaign,
    any(country_code) AS country_code,
    any(region) AS region,
    any(city) AS city,
    any(browser) AS browser,
    any(os) AS os,
    any(device) AS device
FROM mesure.events
GROUP BY
    site_id,
    session_start,
    session_id;

CREATE TABLE mesure.sites
(
    `site_id` String,
    `hostnames` Array(String) COMMENT 'hosts the site sends from; *.example.fr also matches its subdomains',
    `time_zone` String,
    `mode` Enum8('exempt' = 1, 'consent' = 2) COMMENT 'exempt: CNIL consent exemption rules; consent: the site collects consent',
    `allowed_params` Array(String) COMMENT 'query parameters kept in page URLs',
    `allowed_events` Array(String) COMMENT 'custom event names accepted',
    `city` Bool COMMENT 'store the city, or only country and region',
    `matomo_id` Nullable(UInt32) COMMENT 'idsite sent by Matomo trackers for this site',
    `organisation` String DEFAULT '' COMMENT 'group the dashboard sums page views and visits over; empty for none',
    `updated_at` DateTime64(3, 'UTC'),
    `deleted` Bool
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY site_id
SETTINGS index_granularity = 8192;

