-- The tables partkit manages: one row each, written by `partkit provision`, read by run_maintenance.
-- The schema is never named here: the installer sets search_path to the kit's schema.
CREATE TABLE managed_table (
    parent_schema  text        NOT NULL,
    parent_table   text        NOT NULL,
    -- Kept for reports; the functions always read the real partition key from the catalog.
    control_column text        NOT NULL,
    control_type   text        NOT NULL
        CHECK (control_type IN ('timestamptz', 'timestamp', 'date')),
    -- Months made ahead of the current one.
    premake        integer     NOT NULL DEFAULT 4 CHECK (premake >= 0),
    -- NULL keeps every month attached.
    retention      interval    CHECK (retention > interval '0'),
    -- Where months past the retention go. Maintenance detaches and moves, it never drops.
    archive_schema text,
    -- Month boundaries are midnights in this zone, whatever the session's TimeZone.
    time_zone      text        NOT NULL DEFAULT 'UTC',
    strategy       text        NOT NULL DEFAULT 'plpgsql'
        CHECK (strategy IN ('plpgsql', 'partman')),
    partman_schema text,
    registered_at  timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz,
    -- Purge (opt-in): archived months whose month ended more than purge_after ago are dropped by
    -- run_maintenance, but only once they were exported (archive_export). NULL keeps them.
    purge_after    interval    CHECK (purge_after > interval '0'),
    -- Time-ordered ids (config "ids": "uuidv7", set when partkit created the table): every month gets
    -- an id range (add_id_range), so that a lookup by id alone opens its month and the default only.
    id_ranges      boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (parent_schema, parent_table),
    CONSTRAINT managed_table_retention_needs_archive
        CHECK (retention IS NULL OR archive_schema IS NOT NULL),
    CONSTRAINT managed_table_partman_needs_schema
        CHECK (strategy <> 'partman' OR partman_schema IS NOT NULL)
);

-- A CHECK constraint cannot consult pg_timezone_names, so the zone is validated here: a bad zone
-- would otherwise only surface when run_maintenance switches to it.
CREATE OR REPLACE FUNCTION check_managed_table() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
    IF (TG_OP = 'INSERT' OR NEW.time_zone IS DISTINCT FROM OLD.time_zone)
       AND NOT EXISTS (SELECT 1 FROM pg_timezone_names z WHERE z.name = NEW.time_zone) THEN
        RAISE EXCEPTION 'unknown time zone % for %.%', quote_literal(NEW.time_zone),
                quote_ident(NEW.parent_schema), quote_ident(NEW.parent_table)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use a name from pg_timezone_names, such as UTC or Asia/Shanghai.';
    END IF;
    IF TG_OP = 'UPDATE' THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER managed_table_check
    BEFORE INSERT OR UPDATE ON managed_table
    FOR EACH ROW EXECUTE FUNCTION check_managed_table();
