-- Hourly totals per site for the overview and the time series over long
-- ranges. Hourly in UTC, so any whole-hour site time zone can be rebuilt.
CREATE TABLE IF NOT EXISTS ${db}.${sharded:hourly_stats} ${on_cluster}
(
    site_id LowCardinality(String),
    hour DateTime('UTC'),
    pageviews SimpleAggregateFunction(sum, UInt64),
    events SimpleAggregateFunction(sum, UInt64),
    visitors AggregateFunction(uniq, UInt64),
    visits AggregateFunction(uniq, UInt64)
)
ENGINE = ${engine:AggregatingMergeTree}
PARTITION BY toYYYYMM(hour)
ORDER BY (site_id, hour)
TTL hour + toIntervalMonth(${retention_months})
SETTINGS non_replicated_deduplication_window = 1000;

${distributed:hourly_stats:rand()};

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.hourly_stats_mv ${on_cluster}
TO ${db}.${sharded:hourly_stats}
AS SELECT
    site_id,
    toStartOfHour(ts) AS hour,
    countIf(kind = 'pageview') AS pageviews,
    count() AS events,
    uniqState(visitor_id) AS visitors,
    uniqState(session_id) AS visits
FROM ${db}.${sharded:events}
GROUP BY site_id, hour;
