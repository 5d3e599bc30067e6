-- Invitations: a one-time link an admin copies to someone without an
-- account; opening it sets their password and gives them one role on one
-- site. The store keeps the secret's SHA-256.

CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    site_id TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    invited_by TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    accepted_at BIGINT,
    revoked_at BIGINT
);

CREATE INDEX invitations_by_site ON invitations (site_id);

-- A shared link may be embedded (framed) in the pages of its site's own
-- hosts; by default it may not be framed at all.
ALTER TABLE shared_links ADD COLUMN embeddable BIGINT NOT NULL DEFAULT 0;
