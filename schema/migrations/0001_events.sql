-- Raw events: one row per accepted hit, already anonymised by the collector.
-- Ordered for per-site time-range scans; sampled by the daily visitor hash.
CREATE TABLE IF NOT EXISTS ${db}.${sharded:events} ${on_cluster}
(
    site_id LowCardinality(String) COMMENT 'site id from the site registry',
    ts DateTime64(3, 'UTC') COMMENT 'when the collector received the hit',
    kind Enum8('pageview' = 1, 'custom' = 2, 'outlink' = 3, 'download' = 4),
    name LowCardinality(String) COMMENT 'custom event name; empty for pageviews',
    visitor_id UInt64 COMMENT 'keyed hash with a daily salt; unlinkable across days and sites',
    session_id UInt64,
    session_start DateTime('UTC') COMMENT 'first hit of the session',
    hostname LowCardinality(String),
    path String COMMENT 'URL path with allow-listed query parameters only, no fragment',
    referrer_host LowCardinality(String) COMMENT 'host of the session entry referrer; empty when direct',
    referrer_source LowCardinality(String) COMMENT 'known name of the referrer (search engine, social network)',
    channel Enum8('direct' = 0, 'search' = 1, 'social' = 2, 'email' = 3, 'other' = 4, 'campaign' = 5),
    utm_source LowCardinality(String) COMMENT 'campaign parameters: consent mode only',
    utm_medium LowCardinality(String),
    utm_campaign LowCardinality(String),
    utm_content LowCardinality(String),
    utm_term LowCardinality(String),
    country_code LowCardinality(String) COMMENT 'ISO 3166-1 alpha-2; empty when unknown',
    region LowCardinality(String) COMMENT 'first subdivision name',
    city LowCardinality(String) COMMENT 'empty when city precision is off for the site',
    browser LowCardinality(String),
    browser_version LowCardinality(String) COMMENT 'major version only',
    os LowCardinality(String),
    os_version LowCardinality(String) COMMENT 'major version only',
    device Enum8('unknown' = 0, 'desktop' = 1, 'mobile' = 2, 'tablet' = 3),
    props Map(LowCardinality(String), String) COMMENT 'custom event properties: consent mode only',
    tracker Enum8('pixel' = 1, 'script' = 2, 'matomo' = 3, 'plausible' = 4) COMMENT 'interface the hit came through'
)
ENGINE = ${engine:MergeTree}
PARTITION BY toYYYYMM(ts)
ORDER BY (site_id, toDate(ts), visitor_id, ts)
SAMPLE BY visitor_id
TTL toDateTime(ts) + toIntervalMonth(${retention_months})
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 1000;

${distributed:events:session_id};
