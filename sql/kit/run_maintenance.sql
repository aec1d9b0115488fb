-- The scheduled entry point (pg_cron, an external scheduler or `partkit maintain`): maintains every
-- managed table, or only p_table_name, in one transaction, and returns what it did. One failing
-- table never stops the others: each runs in its own subtransaction and a failure becomes a
-- 'failed' event. The whole run is recorded in maintenance_run / maintenance_event.
-- With managed_table.purge_after set, archived months past it are then dropped when they were
-- exported (purge_archived_months), in a subtransaction of their own: a failed purge never undoes
-- the table's maintenance, and the other way round.
--
-- SET TimeZone: each table switches to its own zone with set_config(..., true); because the
-- function has its own TimeZone setting, PostgreSQL restores the caller's zone when it returns.
CREATE OR REPLACE FUNCTION run_maintenance(p_table_name text DEFAULT NULL)
RETURNS TABLE (parent text, action text, partition_name text, detail text, rows bigint)
LANGUAGE plpgsql
SET search_path FROM CURRENT
SET TimeZone TO 'UTC'
AS $$
#variable_conflict use_column
DECLARE
    v_only     regclass;
    v_run_id   bigint;
    v_config   managed_table;
    v_tables   integer := 0;
    v_failed   integer := 0;
    v_state    text;
    v_message  text;
    v_detail   text;
BEGIN
    -- Concurrent runs would race for the same months; they queue instead. The key is 'partkit' in
    -- ASCII, distinct from postgres-migrations' key.
    PERFORM pg_advisory_xact_lock(31632341598955892);

    IF p_table_name IS NOT NULL THEN
        v_only := resolve_table(p_table_name);
        IF NOT EXISTS (SELECT 1 FROM managed_table m
                        WHERE to_regclass(format('%I.%I', m.parent_schema, m.parent_table)) = v_only) THEN
            RAISE EXCEPTION '% is not a managed table', qualified_name(v_only)
                USING ERRCODE = 'undefined_object', HINT = 'Run partkit provision for it first.';
        END IF;
    END IF;

    -- An hourly job would grow the log without end: keep 90 days (events go with their run).
    DELETE FROM maintenance_run WHERE started_at < now() - interval '90 days';

    INSERT INTO maintenance_run (source)
    VALUES (nullif(current_setting('application_name', true), ''))
    RETURNING id INTO v_run_id;

    FOR v_config IN
        SELECT m.* FROM managed_table m
         WHERE v_only IS NULL OR to_regclass(format('%I.%I', m.parent_schema, m.parent_table)) = v_only
         ORDER BY m.parent_schema, m.parent_table
    LOOP
        v_tables := v_tables + 1;
        BEGIN
            PERFORM set_config('TimeZone', v_config.time_zone, true);
            IF v_config.strategy = 'partman' THEN
                PERFORM maintain_partman_table(v_run_id, v_config);
            ELSE
                PERFORM maintain_plpgsql_table(v_run_id, v_config);
            END IF;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
                                    v_detail = PG_EXCEPTION_DETAIL;
            INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, detail)
            VALUES (v_run_id, v_config.parent_schema, v_config.parent_table, 'failed',
                    concat_ws(' ', v_state || ':', v_message, nullif(v_detail, '')));
            RAISE WARNING 'partkit maintenance of %.% failed: % %', quote_ident(v_config.parent_schema),
                quote_ident(v_config.parent_table), v_state, v_message;
        END;
        IF v_config.purge_after IS NOT NULL THEN
            BEGIN
                PERFORM set_config('TimeZone', v_config.time_zone, true);
                PERFORM purge_archived_months(v_run_id, v_config);
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
                                        v_detail = PG_EXCEPTION_DETAIL;
                INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, detail)
                VALUES (v_run_id, v_config.parent_schema, v_config.parent_table, 'failed',
                        concat_ws(' ', v_state || ':', 'purge:', v_message, nullif(v_detail, '')));
                RAISE WARNING 'partkit purge of %.% failed: % %', quote_ident(v_config.parent_schema),
                    quote_ident(v_config.parent_table), v_state, v_message;
            END;
        END IF;
    END LOOP;
    PERFORM set_config('TimeZone', 'UTC', true);

    -- Failures inside a table's maintenance (a month that could not be made) count too.
    SELECT count(*) INTO v_failed FROM maintenance_event e WHERE e.run_id = v_run_id AND e.action = 'failed';
    UPDATE maintenance_run
       SET finished_at = clock_timestamp(),
           ok = v_failed = 0,
           detail = format('%s table(s), %s failure(s)', v_tables, v_failed)
     WHERE id = v_run_id;

    RETURN QUERY
        SELECT format('%I.%I', e.parent_schema, e.parent_table), e.action, e.partition_name, e.detail, e.rows
          FROM maintenance_event e
         WHERE e.run_id = v_run_id
         ORDER BY e.id;
END;
$$;
