-- Users and what they may see. One dialect for SQLite and PostgreSQL:
-- text ids, BIGINT for integers, times and flags (milliseconds since the
-- epoch; 0 or 1), no engine-specific types or functions.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    -- argon2id in PHC form; empty: no password (single sign-on only).
    password_hash TEXT NOT NULL DEFAULT '',
    superuser BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    disabled_at BIGINT
);

-- A role on one site. Sites live in ClickHouse; a role names one by id.
CREATE TABLE site_roles (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    site_id TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, site_id)
);

-- A role on every site of an organisation (the sites' organisation name).
CREATE TABLE organisation_roles (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organisation TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, organisation)
);

CREATE INDEX site_roles_by_site ON site_roles (site_id);
CREATE INDEX organisation_roles_by_organisation ON organisation_roles (organisation);
