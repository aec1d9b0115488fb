-- The start of a maintenance run: its row in maintenance_run (who ran it: application_name), after
-- dropping runs older than 90 days (an hourly job would grow the log without end; events go with
-- their run). Returns the run's id.
CREATE FUNCTION maintenance_run_begin() RETURNS bigint
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_run_id bigint;
BEGIN
    DELETE FROM maintenance_run WHERE started_at < now() - interval '90 days';
    INSERT INTO maintenance_run (source)
    VALUES (nullif(current_setting('application_name', true), ''))
    RETURNING id INTO v_run_id;
    RETURN v_run_id;
END;
$$;
