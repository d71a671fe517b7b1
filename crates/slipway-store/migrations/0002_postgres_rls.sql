-- PostgreSQL only: row-level security on every tenant-owned table.
--
-- The store runs every transaction as slipway_app (SET ROLE at connect),
-- which owns no table and cannot bypass RLS, and sets two per-transaction
-- settings: slipway.workspace_id (tenant scope) or slipway.platform = 'on'
-- (the named cross-tenant operations). With neither, no tenant row is visible.

DO $$
BEGIN
    CREATE ROLE slipway_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- another database of this cluster created it first
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT slipway_app TO %I', current_user);
EXCEPTION WHEN others THEN
    NULL; -- already a member, or a superuser who needs no grant
END
$$;

CREATE FUNCTION slipway_row_visible(row_workspace TEXT) RETURNS BOOLEAN
LANGUAGE sql STABLE AS $$
    SELECT row_workspace = current_setting('slipway.workspace_id', true)
        OR current_setting('slipway.platform', true) = 'on'
$$;

DO $$
DECLARE
    t RECORD;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('workspaces', 'id'),
        ('memberships', 'workspace_id'),
        ('projects', 'workspace_id'),
        ('environments', 'workspace_id'),
        ('routes', 'workspace_id'),
        ('config_vars', 'workspace_id'),
        ('deployments', 'workspace_id'),
        ('audit_events', 'workspace_id'),
        ('jobs', 'workspace_id')
    ) AS v(name, key)
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t.name);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t.name);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (slipway_row_visible(%I)) WITH CHECK (slipway_row_visible(%I))',
            t.name, t.key, t.key);
    END LOOP;
END
$$;
