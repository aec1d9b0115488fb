-- run_maintenance_proc's call of maintain_table, in a transaction of its own: every lock is waited
-- for at most p_lock_timeout, and a lock not taken in time undoes the table's maintenance and
-- returns 'retry' with the session holding a lock on the table in `detail` (the caller backs off
-- and calls again). Default rows are never moved here: the drain before it did that.
CREATE FUNCTION maintain_table_step(p_run_id bigint, p_config managed_table, p_lock_timeout text, OUT next text, OUT detail text)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_parent regclass := to_regclass(format('%I.%I', p_config.parent_schema, p_config.parent_table));
BEGIN
    PERFORM set_config('lock_timeout', p_lock_timeout, true);
    BEGIN
        PERFORM maintain_table(p_run_id, p_config, 0, true);
        next := 'done';
    EXCEPTION WHEN lock_not_available OR deadlock_detected THEN
        next := 'retry';
        detail := lock_holder(ARRAY[v_parent, (SELECT nullif(pt.partdefid, 0)::regclass FROM pg_partitioned_table pt WHERE pt.partrelid = v_parent)]);
    END;
END;
$$;
