-- Push to live: releases (immutable results of successful builds), what each
-- environment should run (desired, written by the control plane) and what
-- serves (active, written by the agent), instances as the agent sees them,
-- and idempotency keys of deploy requests.

CREATE TABLE releases (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    project_id     TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    deployment_id  TEXT NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    number         BIGINT NOT NULL,
    commit_sha     TEXT,
    artifact_dir   TEXT NOT NULL,
    plan           TEXT NOT NULL,
    runtime_env    TEXT NOT NULL,
    sealed_config  TEXT NOT NULL,
    config_names   TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX releases_environment ON releases (environment_id, id);

ALTER TABLE environments ADD COLUMN desired_release_id TEXT;
ALTER TABLE environments ADD COLUMN active_release_id TEXT;
ALTER TABLE environments ADD COLUMN scale TEXT NOT NULL DEFAULT '{}';

ALTER TABLE deployments ADD COLUMN release_id TEXT;
ALTER TABLE deployments ADD COLUMN kind TEXT NOT NULL DEFAULT 'build';
ALTER TABLE deployments ADD COLUMN plan TEXT;

CREATE TABLE instances (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    release_number BIGINT NOT NULL,
    name           TEXT NOT NULL,
    process        TEXT NOT NULL,
    state          TEXT NOT NULL,
    port           BIGINT,
    restarts       BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX instances_environment ON instances (environment_id);

CREATE TABLE idempotency_keys (
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    request       TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, key)
);
