-- Signed-in browsers and the sign-in attempts that are limited.

-- A session: the browser holds a random secret in a cookie; the store
-- keeps only its SHA-256, so a copy of the store signs nobody in.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The token every form of the session carries (CSRF).
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    seen_at BIGINT NOT NULL
);

CREATE INDEX sessions_by_user ON sessions (user_id);

-- Failed sign-ins, by account and by truncated client address; kept long
-- enough to count the recent ones.
CREATE TABLE sign_in_failures (
    failure_key TEXT NOT NULL,
    at BIGINT NOT NULL
);

CREATE INDEX sign_in_failures_by_key ON sign_in_failures (failure_key, at);
