-- Resources and quotas (issue 12). Sizes are bytes, CPU is thousandths of a core.
--
-- environments.sandbox_uid: the uid (and gid) the environment's builds and instances run as on
-- one machine. Allocated on first use from platform_resources.next_sandbox_uid, a counter that
-- only grows, so a uid is never handed out twice, not even after its environment is deleted;
-- the unique index is the second guard. NULL until first use (and for environments older than
-- this migration).
-- environments.resource_*: what one instance may use; NULL follows the platform default.
-- workspaces.quota_*: a platform admin's limits on the whole workspace; NULL is unlimited.
-- platform_resources: one row of platform-wide state, no tenant data (0009 adds its RLS).
ALTER TABLE environments ADD COLUMN sandbox_uid BIGINT;
CREATE UNIQUE INDEX environments_sandbox_uid ON environments (sandbox_uid);
ALTER TABLE environments ADD COLUMN resource_memory BIGINT;
ALTER TABLE environments ADD COLUMN resource_cpu BIGINT;
ALTER TABLE environments ADD COLUMN resource_max_processes BIGINT;

ALTER TABLE workspaces ADD COLUMN quota_memory BIGINT;
ALTER TABLE workspaces ADD COLUMN quota_instances BIGINT;
ALTER TABLE workspaces ADD COLUMN quota_projects BIGINT;

-- The defaults are written by `slipway up` at each start (NULL until then: the built-in ones),
-- so every process reading the store (control plane, agent, pipeline) resolves them alike.
CREATE TABLE platform_resources (
    id                    BIGINT PRIMARY KEY CHECK (id = 1),
    next_sandbox_uid      BIGINT NOT NULL CHECK (next_sandbox_uid >= 0),
    default_memory        BIGINT,
    default_cpu           BIGINT,
    default_max_processes BIGINT
);
INSERT INTO platform_resources (id, next_sandbox_uid) VALUES (1, 0);
