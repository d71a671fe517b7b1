-- Kubernetes target: what a deployment to a cluster produced. `image` is the exported image
-- pinned by digest (`registry/repository:tag@sha256:…`), `gitops_commit` the commit in the
-- GitOps repository that holds the environment's manifests for it. Both stay NULL for the
-- local target. Existing RLS policies cover new columns of `deployments`.
ALTER TABLE deployments ADD COLUMN image TEXT;
ALTER TABLE deployments ADD COLUMN gitops_commit TEXT;
