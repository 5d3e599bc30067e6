-- Visits, aggregated from events by a materialized view. A session's rows
-- merge in the background; readers aggregate by session_id with -Merge.
CREATE TABLE IF NOT EXISTS ${db}.${sharded:sessions} ${on_cluster}
(
    site_id LowCardinality(String),
    started DateTime('UTC'),
    session_id UInt64,
    visitor_id SimpleAggregateFunction(any, UInt64),
    last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    pageviews SimpleAggregateFunction(sum, UInt64),
    events SimpleAggregateFunction(sum, UInt64),
    entry_page AggregateFunction(argMin, String, DateTime64(3, 'UTC')),
    exit_page AggregateFunction(argMax, String, DateTime64(3, 'UTC')),
    hostname SimpleAggregateFunction(any, LowCardinality(String)),
    referrer_host SimpleAggregateFunction(any, LowCardinality(String)),
    referrer_source SimpleAggregateFunction(any, LowCardinality(String)),
    channel SimpleAggregateFunction(any, Enum8('direct' = 0, 'search' = 1, 'social' = 2, 'email' = 3, 'other' = 4, 'campaign' = 5)),
    utm_source SimpleAggregateFunction(any, LowCardinality(String)),
    utm_medium SimpleAggregateFunction(any, LowCardinality(String)),
    utm_campaign SimpleAggregateFunction(any, LowCardinality(String)),
    country_code SimpleAggregateFunction(any, LowCardinality(String)),
    region SimpleAggregateFunction(any, LowCardinality(String)),
    city SimpleAggregateFunction(any, LowCardinality(String)),
    browser SimpleAggregateFunction(any, LowCardinality(String)),
    os SimpleAggregateFunction(any, LowCardinality(String)),
    device SimpleAggregateFunction(any, Enum8('unknown' = 0, 'desktop' = 1, 'mobile' = 2, 'tablet' = 3))
)
ENGINE = ${engine:AggregatingMergeTree}
PARTITION BY toYYYYMM(started)
ORDER BY (site_id, toDate(started), session_id)
TTL started + toIntervalMonth(${retention_months})
-- Retried inserts into events are deduplicated here too (see delivery).
SETTINGS non_replicated_deduplication_window = 1000;

${distributed:sessions:session_id};

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.sessions_mv ${on_cluster}
TO ${db}.${sharded:sessions}
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
FROM ${db}.${sharded:events}
GROUP BY site_id, session_start, session_id;
