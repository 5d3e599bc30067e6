-- Sites may belong to an organisation (a ministry, a town with several
-- sites): the dashboard sums page views and visits over it. Empty: none.
ALTER TABLE ${db}.sites ${on_cluster}
    ADD COLUMN IF NOT EXISTS organisation String DEFAULT '' COMMENT 'group the dashboard sums page views and visits over; empty for none' AFTER matomo_id;

-- Annotations: dated notes on a site's charts ("campagne radio"), written
-- from the dashboard (one copy on every node). Rows are versions of a
-- note: the newest updated_at wins, and a newest version with
-- deleted = true removes it. They go with the data they describe.
CREATE TABLE IF NOT EXISTS ${db}.annotations ${on_cluster}
(
    site_id String,
    id UInt64 COMMENT 'random, unique within the site',
    date Date COMMENT 'the date it marks, in the site''s time zone',
    text String,
    created_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC'),
    deleted Bool
)
ENGINE = ${global_engine:ReplacingMergeTree(updated_at)}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, id)
TTL date + toIntervalMonth(${retention_months});
