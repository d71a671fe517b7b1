-- Why an instance last exited ("out of memory (limit 512 MiB)", "exit status 1"), for `slipway ps`.
ALTER TABLE instances ADD COLUMN last_exit TEXT;
