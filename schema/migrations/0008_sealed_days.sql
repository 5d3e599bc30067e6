-- Finished days, sealed. Once a UTC day is over, the dashboard's sealer
-- counts it again from its raw events and keeps the figures as plain
-- numbers: unique counts are final, so a range of sealed days adds up
-- without merging a single state. Each day is kept whole, and cut at the
-- site's local midnight (`part`, the local date), so that a range of local
-- days takes whole UTC days inside it and the right part of the two at its
-- edges. Ordered by part first: whole days lie together, and a range of
-- them is read without the parts. A day sealed again adds a version beside
-- the others, never in their place: a reader keeps the version it looked
-- up while a newer one is written (older versions go with the TTL).
CREATE TABLE IF NOT EXISTS ${db}.${sharded:sealed_figures} ${on_cluster}
(
    site_id LowCardinality(String),
    day Date COMMENT 'UTC day',
    part Date COMMENT 'local date of this part of the day; 1970-01-01 for the whole day',
    dimension LowCardinality(String) COMMENT 'total, goal, or a breakdown of daily_breakdowns',
    value String,
    visitors UInt64,
    touched UInt64 COMMENT 'visits with a hit of this value (pages, events, goals)',
    pageviews UInt64,
    events UInt64,
    visits UInt64 COMMENT 'visits started in this day or part',
    continued UInt64 COMMENT 'of them, visits with a second hit',
    duration UInt64 COMMENT 'seconds, of the visits started',
    visit_pageviews UInt64 COMMENT 'page views of the visits started',
    version UInt64 COMMENT 'when the day was sealed, in µs; readers take the version sealed_days lists'
)
ENGINE = ${engine:MergeTree}
PARTITION BY toYYYYMM(day)
ORDER BY (site_id, dimension, part, day, version, value)
TTL day + toIntervalMonth(${retention_months});

${distributed:sealed_figures:cityHash64(site_id)};

-- One row a seal, written once its figures are all in: readers take a
-- day's figures of the newest version listed here, never a seal half
-- written. The sums are the day's totals as sealed; the sealer compares
-- them with the live rollups to find the days that changed since (late
-- hits), and `basis` with the site's time zone and goals now.
CREATE TABLE IF NOT EXISTS ${db}.${sharded:sealed_days} ${on_cluster}
(
    site_id LowCardinality(String),
    day Date COMMENT 'UTC day',
    version UInt64,
    basis String COMMENT 'time zone and goals the day was sealed with',
    events UInt64 COMMENT 'hits of the day',
    visits UInt64 COMMENT 'visits started in the day',
    continued UInt64,
    duration UInt64,
    visit_pageviews UInt64
)
ENGINE = ${engine:ReplacingMergeTree(version)}
PARTITION BY toYYYYMM(day)
ORDER BY (site_id, day)
TTL day + toIntervalMonth(${retention_months});

${distributed:sealed_days:cityHash64(site_id)};
