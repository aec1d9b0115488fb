-- One row per change a maintenance run made (or a table's failure), under its run.
CREATE TABLE maintenance_event (
    id             bigserial   PRIMARY KEY,
    run_id         bigint      NOT NULL REFERENCES maintenance_run (id) ON DELETE CASCADE,
    parent_schema  text        NOT NULL,
    parent_table   text        NOT NULL,
    action         text        NOT NULL CHECK (action IN ('created', 'moved', 'detached', 'failed', 'purged', 'purge-skipped', 'late', 'drained')),
    -- Schema-qualified and quoted as SQL needs it.
    partition_name text,
    detail         text,
    rows           bigint,
    -- A drain of the default partition ('drained'): how long its swap held the parent's ACCESS
    -- EXCLUSIVE lock, measured inside the swap.
    locked_ms      numeric,
    at             timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Deleting old runs cascades here; without the index that would scan every event.
CREATE INDEX maintenance_event_run_id_idx ON maintenance_event (run_id);
