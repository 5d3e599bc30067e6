-- The site registry, shared by every collector replica (one copy on every
-- node of a cluster). Rows are versions of a site: the newest updated_at wins,
-- and a newest version with deleted = true removes the site.
CREATE TABLE IF NOT EXISTS ${db}.sites ${on_cluster}
(
    site_id String,
    hostnames Array(String) COMMENT 'hosts the site sends from; *.example.fr also matches its subdomains',
    time_zone String,
    mode Enum8('exempt' = 1, 'consent' = 2) COMMENT 'exempt: CNIL consent exemption rules; consent: the site collects consent',
    allowed_params Array(String) COMMENT 'query parameters kept in page URLs',
    allowed_events Array(String) COMMENT 'custom event names accepted',
    city Bool COMMENT 'store the city, or only country and region',
    matomo_id Nullable(UInt32) COMMENT 'idsite sent by Matomo trackers for this site',
    updated_at DateTime64(3, 'UTC'),
    deleted Bool
)
ENGINE = ${global_engine:ReplacingMergeTree(updated_at)}
ORDER BY site_id;
