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

CREATE TABLE maintenance_event (
    id             bigserial   PRIMARY KEY,
    run_id         bigint      NOT NULL REFERENCES maintenance_run (id) ON DELETE CASCADE,
    parent_schema  text        NOT NULL,
    parent_table   text        NOT NULL,
    action         text        NOT NULL CHECK (action IN ('created', 'moved', 'detached', 'failed')),
    -- Schema-qualified and quoted as SQL needs it.
    partition_name text,
    detail         text,
    rows           bigint,
    at             timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Deleting old runs cascades here; without the index that would scan every event.
CREATE INDEX maintenance_event_run_id_idx ON maintenance_event (run_id);
