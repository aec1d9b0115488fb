-- Maintenance in one transaction, for a caller that cannot run a procedure: every managed table,
-- or only p_table_name, and returns what it did. One failing table never stops the others (see
-- maintain_table). The run is recorded in maintenance_run / maintenance_event.
--
-- What it cannot do is drain a large default partition: moving rows in one transaction holds the
-- parent's ACCESS EXCLUSIVE lock for a time that grows with them. So it moves them only when at
-- most 10,000 wait (well under a second); with more, a 'failed' event says so and they wait for
-- run_maintenance_proc, which the kit's pg_cron job and `partkit maintain` run, and which drains
-- any number of rows in bounded steps.
--
-- SET TimeZone: each table switches to its own zone with set_config(..., true); because the
-- function has its own TimeZone setting, PostgreSQL restores the caller's zone when it returns.
CREATE FUNCTION run_maintenance(p_table_name text DEFAULT NULL)
RETURNS TABLE (parent text, action text, partition_name text, detail text, rows bigint)
LANGUAGE plpgsql
SET search_path FROM CURRENT
SET TimeZone TO 'UTC'
AS $$
#variable_conflict use_column
DECLARE
    c_move_limit constant bigint := 10000;
    v_run_id   bigint;
    v_config   managed_table;
    v_tables   integer := 0;
    v_default  regclass;
BEGIN
    -- Concurrent runs would race for the same months; they queue instead. The key is 'partkit' in
    -- ASCII, distinct from postgres-migrations' key.
    PERFORM pg_advisory_xact_lock(31632341598955892);
    v_run_id := maintenance_run_begin(p_table_name);
    FOR v_config IN SELECT * FROM maintenance_tables(p_table_name) LOOP
        v_tables := v_tables + 1;
        SELECT nullif(pt.partdefid, 0)::regclass INTO v_default
          FROM pg_partitioned_table pt
         WHERE pt.partrelid = to_regclass(format('%I.%I', v_config.parent_schema, v_config.parent_table));
        IF v_default IS NOT NULL AND default_rows_waiting(v_default, c_move_limit + 1) > c_move_limit THEN
            INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, partition_name, detail)
            VALUES (v_run_id, v_config.parent_schema, v_config.parent_table, 'failed', qualified_name(v_default),
                    format('more than %s rows wait in %s: one transaction would lock %I.%I for a time that grows with them; '
                           'CALL %I.run_maintenance_proc() drains them in bounded steps',
                           c_move_limit, qualified_name(v_default), v_config.parent_schema, v_config.parent_table, current_schema()));
        END IF;
        PERFORM maintain_table(v_run_id, v_config, c_move_limit, false);
    END LOOP;
    PERFORM maintenance_run_end(v_run_id, v_tables);
    RETURN QUERY
        SELECT format('%I.%I', e.parent_schema, e.parent_table), e.action, e.partition_name, e.detail, e.rows
          FROM maintenance_event e
         WHERE e.run_id = v_run_id
         ORDER BY e.id;
END;
$$;
