-- Goals: what counts as a conversion on a site, a page path pattern or a
-- custom event name (one copy on every node of a cluster). Rows are versions
-- of a goal: the newest updated_at wins, and a newest version with
-- deleted = true removes the goal.
CREATE TABLE IF NOT EXISTS ${db}.goals ${on_cluster}
(
    site_id String,
    name String COMMENT 'the goal as reports show it, unique per site',
    page_pattern String COMMENT 'page path pattern: * within a segment, ** across segments; empty for an event goal',
    event_name String COMMENT 'custom event name; empty for a page goal',
    updated_at DateTime64(3, 'UTC'),
    deleted Bool
)
ENGINE = ${global_engine:ReplacingMergeTree(updated_at)}
ORDER BY (site_id, name);
