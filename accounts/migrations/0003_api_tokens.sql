-- API tokens: read access to some sites for scripts and connectors. The
-- secret is shown once; the store keeps its SHA-256. A token reads a site
-- only while its maker may too.

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);

CREATE TABLE api_token_sites (
    token_id TEXT NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    site_id TEXT NOT NULL,
    PRIMARY KEY (token_id, site_id)
);
