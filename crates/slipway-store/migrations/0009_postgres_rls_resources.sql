-- PostgreSQL only: what 0008 added, guarded like the tenant tables.
--
-- platform_resources holds no tenant data: every scope may read it (tenant transactions resolve
-- the default resources), only the platform scope may change it (uid allocation, defaults).
ALTER TABLE platform_resources ENABLE ROW LEVEL SECURITY;
ALTER TABLE platform_resources FORCE ROW LEVEL SECURITY;
CREATE POLICY readable ON platform_resources FOR SELECT USING (true);
CREATE POLICY platform_writes ON platform_resources
    USING (current_setting('slipway.platform', true) = 'on')
    WITH CHECK (current_setting('slipway.platform', true) = 'on');

-- An environment's sandbox uid is set once, by the platform scope, and never changed or
-- cleared: a tenant-scoped statement cannot take over (or give away) a uid, whatever it asks.
CREATE FUNCTION slipway_sandbox_uid_write_once() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.sandbox_uid IS NOT NULL AND current_setting('slipway.platform', true) IS DISTINCT FROM 'on' THEN
            RAISE EXCEPTION 'sandbox uids are allocated by the platform only';
        END IF;
    ELSIF NEW.sandbox_uid IS DISTINCT FROM OLD.sandbox_uid THEN
        IF OLD.sandbox_uid IS NOT NULL THEN
            RAISE EXCEPTION 'the sandbox uid of environment % is allocated once and never changes', OLD.id;
        END IF;
        IF current_setting('slipway.platform', true) IS DISTINCT FROM 'on' THEN
            RAISE EXCEPTION 'sandbox uids are allocated by the platform only';
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER sandbox_uid_write_once BEFORE INSERT OR UPDATE OF sandbox_uid ON environments
    FOR EACH ROW EXECUTE FUNCTION slipway_sandbox_uid_write_once();
