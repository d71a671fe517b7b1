-- Per-project build timeout (issue 14), in seconds, 60 to 7200; NULL follows the platform's
-- default (15 minutes). The API checks the range; the CHECK is the second guard.
--
-- A new column of a table 0002 already guards with row-level security: no new policy.
ALTER TABLE projects ADD COLUMN build_timeout_seconds BIGINT
    CHECK (build_timeout_seconds IS NULL OR build_timeout_seconds BETWEEN 60 AND 7200);
