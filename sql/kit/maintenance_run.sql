-- What each run_maintenance call did, so a scheduler's silent runs can be audited afterwards.
CREATE TABLE maintenance_run (
    id          bigserial   PRIMARY KEY,
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    -- NULL while running (or if the run's transaction rolled back, the row is gone with it).
    ok          boolean,
    -- Who ran it, usually application_name (partkit, pg_cron, ...).
    source      text,
    detail      text,
    -- The one table the run was asked for (run_maintenance(p_table_name)); NULL when it covered
    -- every managed table. The per-table views of the log (partkit log, the metrics view) read it.
    parent_schema text,
    parent_table  text
);
