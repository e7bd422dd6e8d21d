-- +goose Up
CREATE TABLE roles (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    scope       TEXT NOT NULL,
    description TEXT NOT NULL
);

INSERT INTO roles (id, name, scope, description) VALUES
    ('organization_admin',  'Organization administrator', 'organization', 'Manages the organization, its users and projects'),
    ('organization_reader', 'Organization reader',        'organization', 'Reads the organization settings'),
    ('billing_admin',       'Billing administrator',      'billing',      'Manages billing, payment and tax invoices'),
    ('billing_manager',     'Billing manager',            'billing',      'Manages cost and usage'),
    ('billing_viewer',      'Billing viewer',             'billing',      'Reads cost and usage'),
    ('project_admin',       'Project administrator',      'project',      'Manages a project and its members'),
    ('project_member',      'Project member',             'project',      'Uses the resources of a project'),
    ('project_reader',      'Project reader',             'project',      'Reads the resources of a project');

CREATE TABLE signups (
    id                TEXT PRIMARY KEY,
    token_hash        TEXT NOT NULL,
    status            TEXT NOT NULL,
    workflow_id       TEXT NOT NULL,
    organization_name TEXT,
    business_number   TEXT,
    contact_email     TEXT,
    view              TEXT NOT NULL,
    last_error        TEXT,
    version           INTEGER NOT NULL DEFAULT 0,
    created_at        DATETIME NOT NULL,
    updated_at        DATETIME NOT NULL
);
CREATE INDEX signups_status_created_idx ON signups (status, created_at DESC);
CREATE INDEX signups_created_idx ON signups (created_at DESC);

CREATE TABLE certificates (
    id           TEXT PRIMARY KEY,
    signup_id    TEXT NOT NULL,
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    data         BLOB NOT NULL,
    created_at   DATETIME NOT NULL
);
CREATE INDEX certificates_signup_idx ON certificates (signup_id);

CREATE TABLE organizations (
    id         TEXT PRIMARY KEY,
    signup_id  TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    name_key   TEXT UNIQUE,
    status     TEXT NOT NULL,
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL
);

CREATE TABLE name_reservations (
    name_key        TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    signup_id       TEXT NOT NULL UNIQUE,
    organization_id TEXT REFERENCES organizations (id),
    created_at      DATETIME NOT NULL,
    updated_at      DATETIME NOT NULL
);

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    organization_id     TEXT NOT NULL REFERENCES organizations (id),
    email               TEXT NOT NULL,
    name                TEXT NOT NULL,
    phone               TEXT NOT NULL,
    is_owner            BOOLEAN NOT NULL DEFAULT 0,
    status              TEXT NOT NULL,
    password_hash       TEXT,
    failed_attempts     INTEGER NOT NULL DEFAULT 0,
    password_changed_at DATETIME,
    created_at          DATETIME NOT NULL,
    updated_at          DATETIME NOT NULL,
    UNIQUE (organization_id, email)
);

CREATE TABLE role_assignments (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    user_id         TEXT NOT NULL REFERENCES users (id),
    role_id         TEXT NOT NULL REFERENCES roles (id),
    created_at      DATETIME NOT NULL,
    UNIQUE (user_id, role_id)
);

CREATE TABLE business_profiles (
    id                   TEXT PRIMARY KEY,
    organization_id      TEXT NOT NULL UNIQUE REFERENCES organizations (id),
    signup_id            TEXT NOT NULL UNIQUE,
    business_number      TEXT NOT NULL,
    company_name         TEXT NOT NULL,
    billing_email        TEXT NOT NULL,
    representative_name  TEXT NOT NULL,
    representative_phone TEXT NOT NULL,
    address              TEXT NOT NULL,
    business_type        TEXT NOT NULL,
    business_category    TEXT NOT NULL,
    business_status      TEXT NOT NULL,
    verification_source  TEXT NOT NULL,
    verified_at          DATETIME NOT NULL,
    certificate_id       TEXT,
    created_at           DATETIME NOT NULL
);

CREATE TABLE invitation_tokens (
    id         TEXT PRIMARY KEY,
    signup_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id),
    seq        INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    status     TEXT NOT NULL,
    expires_at DATETIME NOT NULL,
    sent_at    DATETIME,
    used_at    DATETIME,
    created_at DATETIME NOT NULL,
    UNIQUE (signup_id, seq)
);
CREATE INDEX invitation_tokens_user_idx ON invitation_tokens (user_id, status);

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL REFERENCES users (id),
    expires_at DATETIME NOT NULL,
    created_at DATETIME NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE password_reset_tokens (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,
    expires_at DATETIME NOT NULL,
    used_at    DATETIME,
    created_at DATETIME NOT NULL
);
CREATE INDEX password_reset_tokens_user_idx ON password_reset_tokens (user_id);

CREATE TABLE password_history (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id),
    password_hash TEXT NOT NULL,
    created_at    DATETIME NOT NULL
);
CREATE INDEX password_history_user_idx ON password_history (user_id, created_at DESC);

CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY,
    signup_id   TEXT,
    user_id     TEXT,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT,
    detail      TEXT,
    dedupe_key  TEXT UNIQUE,
    created_at  DATETIME NOT NULL
);
CREATE INDEX audit_events_signup_idx ON audit_events (signup_id, created_at);
CREATE INDEX audit_events_user_idx ON audit_events (user_id, created_at);

CREATE TABLE nts_cache (
    business_number TEXT PRIMARY KEY,
    status          TEXT NOT NULL,
    status_code     TEXT NOT NULL,
    tax_type        TEXT NOT NULL,
    checked_at      DATETIME NOT NULL,
    expires_at      DATETIME NOT NULL
);

-- +goose Down
DROP TABLE nts_cache;
DROP TABLE audit_events;
DROP TABLE password_history;
DROP TABLE password_reset_tokens;
DROP TABLE sessions;
DROP TABLE invitation_tokens;
DROP TABLE business_profiles;
DROP TABLE role_assignments;
DROP TABLE users;
DROP TABLE name_reservations;
DROP TABLE organizations;
DROP TABLE certificates;
DROP TABLE signups;
DROP TABLE roles;
