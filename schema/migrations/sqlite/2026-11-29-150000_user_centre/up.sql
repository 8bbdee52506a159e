-- The user centre. Timestamps are BIGINT microseconds since the Unix epoch,
-- UTC; ids are prefixed random text compared bytewise, as on PostgreSQL. Of
-- every secret token only its SHA-256 (hex) is stored; passwords as argon2id
-- PHC strings. Built-in permission templates (`tpl_owner` …) are not rows:
-- members, invitations and keys name them by id, so `template_id` columns
-- carry no foreign key.
CREATE TABLE accounts (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT UNIQUE,
    email_verified_at BIGINT,
    phone TEXT UNIQUE,
    phone_verified_at BIGINT,
    display_name TEXT NOT NULL,
    operator BOOLEAN NOT NULL,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Failed log-ins per login identifier or IP: when each failure still
-- counted stops counting (µs, a JSON array, oldest first), and the lock.
CREATE TABLE login_throttles (
    throttle_key TEXT PRIMARY KEY NOT NULL,
    failure_expiries TEXT NOT NULL,
    locked_until BIGINT
);

-- Codes and reset tokens; 6-digit codes may share a hash across accounts,
-- so the key is a row id. An account's current code of a purpose is its
-- newest row that is neither used nor superseded.
CREATE TABLE one_time_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    purpose TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    target TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    superseded_at BIGINT
);
CREATE INDEX one_time_codes_account ON one_time_codes (account_id, purpose, id);
CREATE INDEX one_time_codes_hash ON one_time_codes (purpose, code_hash);

-- `identity` is `personal` or the enterprise id.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    identity TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_account ON sessions (account_id);

-- A session's one unused token is its current one.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- `name_key` is the name lowercased (by the store, alike on both backends):
-- names are unique case-insensitively, and the directory searches it.
CREATE TABLE enterprises (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE members (
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    template_id TEXT NOT NULL,
    is_admin BOOLEAN NOT NULL,
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (enterprise_id, account_id)
);
-- One administrator per enterprise, whatever runs concurrently.
CREATE UNIQUE INDEX members_one_admin ON members (enterprise_id) WHERE is_admin;
CREATE INDEX members_account ON members (account_id);
CREATE INDEX members_template ON members (enterprise_id, template_id);

CREATE TABLE applications (
    id TEXT PRIMARY KEY NOT NULL,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    message TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    decided_by TEXT REFERENCES accounts (id),
    decided_at BIGINT
);
-- One pending application per account and enterprise.
CREATE UNIQUE INDEX applications_one_pending ON applications (enterprise_id, account_id)
    WHERE status = 'pending';
CREATE INDEX applications_enterprise ON applications (enterprise_id, created_at);
CREATE INDEX applications_account ON applications (account_id, created_at);

CREATE TABLE invitations (
    id TEXT PRIMARY KEY NOT NULL,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    email TEXT NOT NULL,
    template_id TEXT NOT NULL,
    invited_by TEXT NOT NULL REFERENCES accounts (id),
    status TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX invitations_enterprise ON invitations (enterprise_id, created_at);
CREATE INDEX invitations_template ON invitations (enterprise_id, template_id);

CREATE TABLE projects (
    id TEXT PRIMARY KEY NOT NULL,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    name TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    UNIQUE (enterprise_id, name)
);

CREATE TABLE project_members (
    project_id TEXT NOT NULL REFERENCES projects (id),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    PRIMARY KEY (project_id, account_id)
);
CREATE INDEX project_members_account ON project_members (account_id);

-- An enterprise's own templates; `permissions` is a JSON array of their names.
CREATE TABLE templates (
    id TEXT PRIMARY KEY NOT NULL,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    name TEXT NOT NULL,
    permissions TEXT NOT NULL,
    data_scope TEXT NOT NULL,
    UNIQUE (enterprise_id, name)
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    template_id TEXT NOT NULL,
    project_id TEXT REFERENCES projects (id),
    name TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES accounts (id),
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT,
    last_used_at BIGINT
);
CREATE INDEX api_keys_enterprise ON api_keys (enterprise_id, created_at);
CREATE INDEX api_keys_template ON api_keys (enterprise_id, template_id);

-- Append-only: `tenant` is the account or enterprise id, NULL for platform
-- events; `detail` is JSON text. No foreign keys: an event outlives what it
-- names.
CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    tenant TEXT,
    actor TEXT,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    ip TEXT,
    detail TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);
CREATE INDEX audit_events_tenant ON audit_events (tenant, seq);

-- AUTOINCREMENT above: a seq is never reused. Append-only as on PostgreSQL.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused');
END;
