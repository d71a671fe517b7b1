-- Release retention (issue 12). A release's artifact is the build directory of the deployment
-- that built it, `<data>/builds/<deployment id>/`; a rollback's release reuses the artifact of the
-- release it went back to, so several releases may share one, and an artifact is kept while any
-- release that needs it is.
--
-- releases.artifact_deployment_id: the deployment whose build directory holds the artifact.
-- deployments.build_pruned_at: when retention removed the deployment's build directory (NULL: it
-- is kept, or there never was one); build_pruned_retention: how many releases the environment
-- kept then, for the message that refuses a rollback to it.
--
-- New columns of tables 0002/0004 already guard with row-level security: no new policy.
ALTER TABLE releases ADD COLUMN artifact_deployment_id TEXT;
ALTER TABLE deployments ADD COLUMN build_pruned_at BIGINT;
ALTER TABLE deployments ADD COLUMN build_pruned_retention BIGINT;

-- Releases of builds hold their own artifact; those of rollbacks the artifact of the build release
-- with the same directory (a rollback copies it).
UPDATE releases SET artifact_deployment_id = deployment_id
    WHERE deployment_id IN (SELECT id FROM deployments WHERE kind = 'build');
UPDATE releases SET artifact_deployment_id = COALESCE(
        (SELECT b.deployment_id FROM releases b JOIN deployments d ON d.id = b.deployment_id
         WHERE b.environment_id = releases.environment_id AND b.artifact_dir = releases.artifact_dir
           AND d.kind = 'build'
         ORDER BY b.id LIMIT 1),
        deployment_id)
    WHERE artifact_deployment_id IS NULL;

CREATE INDEX releases_artifact ON releases (artifact_deployment_id);
