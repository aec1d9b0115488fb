-- Purge of one managed table (opt-in through managed_table.purge_after): archived months in its
-- archive schema whose month ended more than purge_after ago are dropped, each through
-- drop_exported_archive, so only months exported to cold storage go. A month that is not
-- exported (or changed since) is a 'purge-skipped' event and stays. The month is read from the
-- table's name as retention left it: pg_partman 4 _pYYYY_MM, 5 _pYYYYMMDD, the kit _yYYYYmMM.
-- Attached partitions are never considered. Called by run_maintenance in the table's time zone.
CREATE OR REPLACE FUNCTION purge_archived_months(p_run_id bigint, p_config managed_table) RETURNS void
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_cutoff  timestamp;  -- wall time in the table's zone: months ending at or before it go
    v_old     record;
    v_rows    bigint;
    v_file    text;
    v_state   text;
    v_message text;
BEGIN
    IF p_config.purge_after IS NULL OR p_config.archive_schema IS NULL THEN
        RETURN;
    END IF;
    v_cutoff := (now() AT TIME ZONE p_config.time_zone) - p_config.purge_after;
    FOR v_old IN
        SELECT c.oid::regclass AS archived, c.relname, format('%I.%I', n.nspname, c.relname) AS name,
               m.month_start
          FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
         CROSS JOIN LATERAL (SELECT substr(c.relname, length(p_config.parent_table) + 2) AS suffix) s
         -- Guarded by the pattern: other names in the schema must not reach the integer casts.
         CROSS JOIN LATERAL (
                SELECT CASE WHEN s.suffix ~ '^(p[0-9]{4}_(0[1-9]|1[0-2])|p[0-9]{4}(0[1-9]|1[0-2])01|y[0-9]{4}m(0[1-9]|1[0-2]))$'
                            THEN make_timestamp(substr(s.suffix, 2, 4)::integer,
                                                substr(s.suffix, CASE WHEN s.suffix ~ '^p[0-9]{8}$' THEN 6 ELSE 7 END, 2)::integer,
                                                1, 0, 0, 0)
                       END AS month_start
               ) m
         WHERE n.nspname = p_config.archive_schema
           AND c.relkind IN ('r', 'p')
           AND NOT c.relispartition
           AND left(c.relname, length(p_config.parent_table) + 1) = p_config.parent_table || '_'
           AND m.month_start + interval '1 month' <= v_cutoff
         ORDER BY m.month_start, c.relname
    LOOP
        BEGIN
            v_rows := drop_exported_archive(v_old.archived);
            SELECT e.file INTO v_file FROM archive_export e
             WHERE e.archive_schema = p_config.archive_schema AND e.archived_table = v_old.relname;
            INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, partition_name, detail, rows)
            VALUES (p_run_id, p_config.parent_schema, p_config.parent_table, 'purged', v_old.name,
                    format('month %s ended more than %s ago; its export is %s',
                           to_char(v_old.month_start, 'YYYY-MM'), p_config.purge_after, v_file),
                    v_rows);
        EXCEPTION WHEN object_not_in_prerequisite_state THEN
            GET STACKED DIAGNOSTICS v_message = MESSAGE_TEXT;
            INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, partition_name, detail)
            VALUES (p_run_id, p_config.parent_schema, p_config.parent_table, 'purge-skipped', v_old.name,
                    v_message);
        WHEN OTHERS THEN
            -- Another month may still go; this one is a failure of the run.
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
            INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, partition_name, detail)
            VALUES (p_run_id, p_config.parent_schema, p_config.parent_table, 'failed', v_old.name,
                    format('%s: purge of %s: %s', v_state, v_old.name, v_message));
        END;
    END LOOP;
END;
$$;
