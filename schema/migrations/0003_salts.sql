-- Daily visitor-hash salts, shared by every collector replica (replicated to
-- every node of a cluster). The collector deletes a salt once its day is over;
-- the TTL is the backstop that destroys it within 48 hours.
CREATE TABLE IF NOT EXISTS ${db}.salts ${on_cluster}
(
    day Date COMMENT 'UTC day the salt is used for',
    salt FixedString(16),
    created_at DateTime64(3, 'UTC')
)
ENGINE = ${global_engine:MergeTree}
ORDER BY (day, created_at)
TTL toDateTime(day, 'UTC') + toIntervalDay(2);
