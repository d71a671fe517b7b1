-- The schema, written once for SQLite and PostgreSQL: IDs are text
-- (`ws_…`), times are Unix milliseconds, flags are 0/1 integers (sqlx's
-- Any driver cannot read SQLite booleans).
-- Tenant-owned tables carry workspace_id; 0002 adds row-level security to them on PostgreSQL.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    email         TEXT,
    password_hash TEXT NOT NULL,
    is_admin      BIGINT NOT NULL CHECK (is_admin IN (0, 1)),
    created_at    BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('session', 'personal')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, id);

CREATE TABLE workspaces (
    id         TEXT PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'viewer')),
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id, workspace_id);

CREATE TABLE projects (
    id                TEXT PRIMARY KEY,
    workspace_id      TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    slug              TEXT NOT NULL,
    repo_url          TEXT,
    branch            TEXT NOT NULL,
    next_build_number BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    UNIQUE (workspace_id, slug)
);
CREATE INDEX projects_workspace ON projects (workspace_id, id);

CREATE TABLE environments (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    project_id   TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    target       TEXT NOT NULL CHECK (target IN ('local', 'kubernetes')),
    created_at   BIGINT NOT NULL,
    UNIQUE (project_id, name)
);
CREATE INDEX environments_workspace ON environments (workspace_id, project_id);

-- One row per hostname on the whole platform: the primary key is what
-- refuses a collision, whichever tenant holds the other name.
CREATE TABLE routes (
    hostname       TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL CHECK (kind IN ('generated', 'custom')),
    created_at     BIGINT NOT NULL
);
CREATE INDEX routes_environment ON routes (environment_id);

CREATE TABLE config_vars (
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    sealed_value   TEXT NOT NULL,
    secret         BIGINT NOT NULL CHECK (secret IN (0, 1)),
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (environment_id, name)
);

CREATE TABLE deployments (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    project_id     TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    number         BIGINT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('QUEUED', 'BUILDING', 'DEPLOYING', 'DEPLOYED', 'FAILED', 'CANCELLED', 'SUPERSEDED')),
    commit_sha     TEXT,
    failure_reason TEXT,
    created_by     TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    UNIQUE (project_id, number)
);
CREATE INDEX deployments_environment ON deployments (environment_id, id);

-- No foreign key to workspaces: the trail outlives what it describes.
CREATE TABLE audit_events (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT,
    actor_id     TEXT,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    target       TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX audit_events_workspace ON audit_events (workspace_id, id);

CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempts         BIGINT NOT NULL,
    max_attempts     BIGINT NOT NULL,
    run_after        BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_expires_at BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX jobs_ready ON jobs (status, run_after, id);
