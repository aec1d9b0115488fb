-- The end of a maintenance run: finished, ok when no event of the run failed.
CREATE FUNCTION maintenance_run_end(p_run_id bigint, p_tables integer) RETURNS void
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_failed integer;
BEGIN
    SELECT count(*) INTO v_failed FROM maintenance_event e WHERE e.run_id = p_run_id AND e.action = 'failed';
    UPDATE maintenance_run
       SET finished_at = clock_timestamp(),
           ok = v_failed = 0,
           detail = format('%s table(s), %s failure(s)', p_tables, v_failed)
     WHERE id = p_run_id;
END;
$$;
