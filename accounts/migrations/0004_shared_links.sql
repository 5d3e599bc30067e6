-- Shared links: read-only views of one site's dashboard for people
-- without an account. The secret is in the URL; the store keeps its
-- SHA-256. A link may have a password (argon2id) and an expiry.

CREATE TABLE shared_links (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    site_id TEXT NOT NULL,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL DEFAULT '',
    expires_at BIGINT,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);

CREATE INDEX shared_links_by_site ON shared_links (site_id);
