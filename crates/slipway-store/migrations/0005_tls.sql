-- TLS at the edge: a per-route HTTP→HTTPS redirect flag, and the certificates the router
-- serves. A certificate belongs to its route: removing a domain removes its certificate, so a
-- certificate never outlives the tenant that owned the name. Private keys are sealed like
-- config values (the key is outside the database).
ALTER TABLE routes ADD COLUMN https_redirect INTEGER NOT NULL DEFAULT 0 CHECK (https_redirect IN (0, 1));

CREATE TABLE certificates (
    hostname       TEXT PRIMARY KEY REFERENCES routes (hostname) ON DELETE CASCADE,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    cert_chain_pem TEXT NOT NULL,
    sealed_key     TEXT NOT NULL,
    not_after      BIGINT NOT NULL,
    issuer         TEXT NOT NULL CHECK (issuer IN ('acme')),
    updated_at     BIGINT NOT NULL
);
