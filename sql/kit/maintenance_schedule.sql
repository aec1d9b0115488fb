-- How provision scheduled maintenance: a pg_cron job or an external scheduler, its cron schedule
-- and the job's name. verify, status and doctor read it, so that they judge maintenance the same
-- way on every machine, with or without the config file and provision's --scheduler flag. One row.
CREATE TABLE maintenance_schedule (
    id          boolean     PRIMARY KEY DEFAULT true CHECK (id),
    scheduler   text        NOT NULL CHECK (scheduler IN ('pg_cron', 'external')),
    -- The pg_cron job runs on it; an external scheduler is expected to (verify derives the
    -- maintenance's maximum age from it).
    schedule    text        NOT NULL,
    -- The pg_cron job's name; NULL with an external scheduler.
    job_name    text,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT maintenance_schedule_job_name CHECK ((scheduler = 'pg_cron') = (job_name IS NOT NULL))
);
