-- Per-project app directory of a monorepo (issue 14): a relative path of plain names, checked by
-- the API (`slipway_core::root_dir`) and against each checkout by the builder; NULL takes the
-- repository's slipway.toml, or its root.
--
-- A new column of a table 0002 already guards with row-level security: no new policy.
ALTER TABLE projects ADD COLUMN root_dir TEXT CHECK (root_dir IS NULL OR length(root_dir) BETWEEN 1 AND 1024);
