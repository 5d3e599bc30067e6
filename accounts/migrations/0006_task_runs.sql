-- Daily tasks several dashboard replicas could run (the forced expiry):
-- the replica that writes a task's row for a UTC day runs it that day.

CREATE TABLE task_runs (
    task TEXT NOT NULL,
    day TEXT NOT NULL,
    claimed_at BIGINT NOT NULL,
    finished_at BIGINT,
    PRIMARY KEY (task, day)
);
