-- Each hit's number in its visit and the seconds since the visit's previous
-- hit, stamped by the collector: counted per hit, they add up to visits,
-- bounces and durations, so that the rollups below can hold them.
ALTER TABLE ${db}.${sharded:events} ${on_cluster}
    ADD COLUMN IF NOT EXISTS hit UInt16 DEFAULT 0 COMMENT 'number of the hit in its visit, 1 for the first; 0 when not recorded',
    ADD COLUMN IF NOT EXISTS gap_s UInt32 DEFAULT 0 COMMENT 'seconds since the previous hit of the visit';

-- On a cluster, the distributed table too (on one node, this changes nothing).
ALTER TABLE ${db}.events ${on_cluster}
    ADD COLUMN IF NOT EXISTS hit UInt16 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS gap_s UInt32 DEFAULT 0;

-- Totals per site and UTC hour: hits by the hour they happened in, visits by
-- the hour they started in. Visitor ids live one UTC day, so a day's unique
-- visitors are its hours' states merged, and a range's the days' sum.
CREATE TABLE IF NOT EXISTS ${db}.${sharded:hourly_totals} ${on_cluster}
(
    site_id LowCardinality(String),
    hour DateTime('UTC'),
    visitors AggregateFunction(uniq, UInt64),
    pageviews SimpleAggregateFunction(sum, UInt64),
    events SimpleAggregateFunction(sum, UInt64),
    visits SimpleAggregateFunction(sum, UInt64) COMMENT 'visits started this hour',
    continued SimpleAggregateFunction(sum, UInt64) COMMENT 'of them, visits with a second hit',
    duration SimpleAggregateFunction(sum, UInt64) COMMENT 'seconds, of the visits started this hour',
    visit_pageviews SimpleAggregateFunction(sum, UInt64) COMMENT 'page views of the visits started this hour'
)
ENGINE = ${engine:AggregatingMergeTree}
PARTITION BY toYYYYMM(hour)
ORDER BY (site_id, hour)
TTL hour + toIntervalMonth(${retention_months})
-- Small granules: a query decodes every state of the granules it touches,
-- and a range's edges would otherwise decode thousands of its neighbours'.
SETTINGS index_granularity = 1024, non_replicated_deduplication_window = 1000;

${distributed:hourly_totals:rand()};

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.hourly_totals_hits_mv ${on_cluster}
TO ${db}.${sharded:hourly_totals}
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
FROM ${db}.${sharded:events}
GROUP BY site_id, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.hourly_totals_visits_mv ${on_cluster}
TO ${db}.${sharded:hourly_totals}
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
FROM ${db}.${sharded:events}
GROUP BY site_id, hour;

-- Breakdowns per site, UTC day, dimension and value: each panel's rows over
-- whole days. Hit figures by the day of the hit; visit figures by the day
-- the visit started.
CREATE TABLE IF NOT EXISTS ${db}.${sharded:daily_breakdowns} ${on_cluster}
(
    site_id LowCardinality(String),
    day Date,
    dimension LowCardinality(String),
    value String,
    visitors AggregateFunction(uniq, UInt64),
    touched AggregateFunction(uniq, UInt64) COMMENT 'visits with a hit of this value (pages, events)',
    pageviews SimpleAggregateFunction(sum, UInt64),
    events SimpleAggregateFunction(sum, UInt64),
    visits SimpleAggregateFunction(sum, UInt64) COMMENT 'visits started this day',
    continued SimpleAggregateFunction(sum, UInt64),
    duration SimpleAggregateFunction(sum, UInt64),
    visit_pageviews SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ${engine:AggregatingMergeTree}
PARTITION BY toYYYYMM(day)
ORDER BY (site_id, dimension, day, value)
TTL day + toIntervalMonth(${retention_months})
SETTINGS index_granularity = 1024, non_replicated_deduplication_window = 1000;

${distributed:daily_breakdowns:rand()};

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.daily_breakdowns_hits_mv ${on_cluster}
TO ${db}.${sharded:daily_breakdowns}
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
FROM ${db}.${sharded:events}
ARRAY JOIN arrayFilter(x -> x.3, [
    ('page', CAST(path AS String), kind = 'pageview'),
    ('hostname', CAST(hostname AS String), 1),
    ('event', CAST(name AS String), kind = 'custom'),
    ('outbound', CAST(name AS String), kind = 'outlink'),
    ('download', CAST(name AS String), kind = 'download'),
    ('source', CAST(if(referrer_source != '', referrer_source, if(referrer_host != '', referrer_host, 'Direct / None')) AS String), 1),
    ('referrer', CAST(referrer_host AS String), 1),
    ('channel', toString(channel), 1),
    ('country', CAST(country_code AS String), 1),
    ('region', CAST(region AS String), 1),
    ('city', CAST(city AS String), 1),
    ('browser', CAST(browser AS String), 1),
    ('browser_version', CAST(browser_version AS String), 1),
    ('os', CAST(os AS String), 1),
    ('os_version', CAST(os_version AS String), 1),
    ('device', toString(device), 1),
    ('utm_source', CAST(utm_source AS String), 1),
    ('utm_medium', CAST(utm_medium AS String), 1),
    ('utm_campaign', CAST(utm_campaign AS String), 1),
    ('utm_content', CAST(utm_content AS String), 1),
    ('utm_term', CAST(utm_term AS String), 1)
]) AS d
GROUP BY site_id, day, dimension, value;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.daily_breakdowns_visits_mv ${on_cluster}
TO ${db}.${sharded:daily_breakdowns}
AS SELECT
    site_id,
    toDate(session_start) AS day,
    d.1 AS dimension,
    d.2 AS value,
    -- Entry pages have no hit figures: their visitors come from here.
    uniqStateIf(visitor_id, d.1 = 'entry_page') AS visitors,
    uniqStateIf(session_id, 0) AS touched,
    toUInt64(0) AS pageviews,
    toUInt64(0) AS events,
    countIf(hit = 1) AS visits,
    countIf(hit = 2) AS continued,
    sum(toUInt64(gap_s)) AS duration,
    countIf(kind = 'pageview') AS visit_pageviews
FROM ${db}.${sharded:events}
ARRAY JOIN arrayFilter(x -> x.3, [
    ('entry_page', CAST(path AS String), hit = 1),
    ('source', CAST(if(referrer_source != '', referrer_source, if(referrer_host != '', referrer_host, 'Direct / None')) AS String), 1),
    ('referrer', CAST(referrer_host AS String), 1),
    ('channel', toString(channel), 1),
    ('country', CAST(country_code AS String), 1),
    ('region', CAST(region AS String), 1),
    ('city', CAST(city AS String), 1),
    ('browser', CAST(browser AS String), 1),
    ('browser_version', CAST(browser_version AS String), 1),
    ('os', CAST(os AS String), 1),
    ('os_version', CAST(os_version AS String), 1),
    ('device', toString(device), 1),
    ('utm_source', CAST(utm_source AS String), 1),
    ('utm_medium', CAST(utm_medium AS String), 1),
    ('utm_campaign', CAST(utm_campaign AS String), 1),
    ('utm_content', CAST(utm_content AS String), 1),
    ('utm_term', CAST(utm_term AS String), 1)
]) AS d
GROUP BY site_id, day, dimension, value;
