-- What each run_maintenance call did, so a scheduler's silent runs can be audited afterwards.
CREATE TABLE maintenance_run (
    id          bigserial   PRIMARY KEY,
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    -- NULL while running (or if the run's transaction rolled back, the row is gone with it).
    ok          boolean,
    -- Who ran it, usually application_name (partkit, pg_cron, ...).
    source      text,
    detail      text
);
