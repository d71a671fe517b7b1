-- PostgreSQL only: row-level security on the tables of 0003.
DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['releases', 'instances', 'idempotency_keys']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (slipway_row_visible(workspace_id)) WITH CHECK (slipway_row_visible(workspace_id))',
            t);
    END LOOP;
END
$$;
