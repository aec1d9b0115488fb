-- The start of a maintenance run: its row in maintenance_run (who ran it: application_name; the one
-- table it was asked for, or NULL for all of them), after dropping runs older than 90 days (an hourly
-- job would grow the log without end; events go with their run). Returns the run's id.
CREATE FUNCTION maintenance_run_begin(p_table_name text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_run_id bigint;
    v_only regclass;
BEGIN
    IF p_table_name IS NOT NULL THEN
        v_only := resolve_table(p_table_name);
    END IF;
    DELETE FROM maintenance_run WHERE started_at < now() - interval '90 days';
    INSERT INTO maintenance_run (source, parent_schema, parent_table)
    VALUES (nullif(current_setting('application_name', true), ''),
            (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = v_only),
            (SELECT c.relname FROM pg_class c WHERE c.oid = v_only))
    RETURNING id INTO v_run_id;
    RETURN v_run_id;
END;
$$;
