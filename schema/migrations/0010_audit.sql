-- The audit log: sign-ins, settings and mode changes, tokens, links and
-- exports, with who, when, which site and from which truncated address.
-- Written by the dashboard and the command line (one copy on every node),
-- kept twelve months whatever the retention of the audience data.
CREATE TABLE IF NOT EXISTS ${db}.audit ${on_cluster}
(
    at DateTime64(3, 'UTC'),
    action LowCardinality(String) COMMENT 'one of a closed set: sign_in, site_changed, token_used, export, ...',
    actor String COMMENT 'the account''s e-mail (as typed for a refused sign-in), or the command line',
    credential String COMMENT 'token:ID or link:ID when one was used; empty for a session',
    site_id String COMMENT 'empty for what concerns no one site (a sign-in)',
    address String COMMENT 'the client address truncated to /24 or /48; empty from the command line',
    detail String COMMENT 'what changed, in a few words'
)
ENGINE = ${global_engine:MergeTree}
PARTITION BY toYYYYMM(at)
ORDER BY (at, site_id)
TTL toDateTime(at) + toIntervalYear(1);
