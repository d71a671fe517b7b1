-- PostgreSQL only: row-level security on the certificates of 0005.
ALTER TABLE certificates ENABLE ROW LEVEL SECURITY;
ALTER TABLE certificates FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON certificates
    USING (slipway_row_visible(workspace_id)) WITH CHECK (slipway_row_visible(workspace_id));
