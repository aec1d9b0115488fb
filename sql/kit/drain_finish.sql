-- After a drain's swap, one piece per call (each in its own transaction, so a kill anywhere leaves
-- the rest to the next run): the rows of months past the retention join the archive; the old
-- default is dropped; the copy's empty parent and the capture go; the months are counted into the
-- log. Nothing here locks the parent. Returns true when the drain is done.
CREATE FUNCTION drain_finish(p_run_id bigint, p_config managed_table, p_drain default_drain) RETURNS boolean
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_month   jsonb;
    v_late    regclass;
    v_rows    bigint;
    v_total   bigint := 0;
    v_months  integer := 0;
BEGIN
    FOR v_month IN SELECT value FROM jsonb_array_elements(p_drain.months) WHERE (value->>'late')::boolean LOOP
        v_late := to_regclass(v_month->>'staged');
        CONTINUE WHEN v_late IS NULL;
        PERFORM archive_late_rows(p_run_id, p_config, v_late, (v_month->>'start')::timestamp, v_month->>'child');
        EXECUTE format('DROP TABLE %s', qualified_name(v_late));
        RETURN false;
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = p_drain.old_default) THEN
        EXECUTE format('DROP TABLE %s', qualified_name(p_drain.old_default::regclass));
        RETURN false;
    END IF;
    PERFORM drain_drop_copies(p_drain.staging);
    FOR v_month IN SELECT value FROM jsonb_array_elements(p_drain.months) WHERE NOT (value->>'late')::boolean ORDER BY value->>'start' LOOP
        CONTINUE WHEN to_regclass(format('%I.%I', p_config.parent_schema, v_month->>'child')) IS NULL;
        EXECUTE format('SELECT count(*) FROM %I.%I', p_config.parent_schema, v_month->>'child') INTO v_rows;
        v_total := v_total + v_rows;
        v_months := v_months + 1;
        INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, partition_name, detail, rows)
        VALUES (p_run_id, p_config.parent_schema, p_config.parent_table, 'moved', format('%I.%I', p_config.parent_schema, v_month->>'child'),
                format('rows drained out of %I.%I', p_config.parent_schema, p_drain.default_name), v_rows);
    END LOOP;
    INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, partition_name, detail, rows, locked_ms)
    VALUES (p_run_id, p_config.parent_schema, p_config.parent_table, 'drained', format('%I.%I', p_config.parent_schema, p_drain.default_name),
            format('%s rows copied out of the default partition in %s batches, %s captured changes replayed; the swap held %s for %s ms',
                   p_drain.rows_copied, p_drain.batches, p_drain.keys_replayed, format('%I.%I', p_config.parent_schema, p_config.parent_table),
                   p_drain.locked_ms),
            p_drain.rows_copied, p_drain.locked_ms);
    DELETE FROM default_drain d WHERE d.parent_schema = p_drain.parent_schema AND d.parent_table = p_drain.parent_table;
    RETURN true;
END;
$$;
