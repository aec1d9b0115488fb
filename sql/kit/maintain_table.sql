-- One managed table's maintenance in the caller's transaction, in the table's time zone: the
-- strategy's work (maintain_plpgsql_table or maintain_partman_table, moving at most p_move_limit
-- default rows), then, with purge_after set, the purge of archived months that were exported
-- (purge_archived_months). Each runs in a subtransaction of its own: a failure is a 'failed' event
-- and never undoes the other. With p_raise_lock_errors, a lock not taken in time (or a deadlock,
-- also inside pg_partman: lock_failure) is raised as lock_not_available instead, for the caller to
-- retry the whole table.
CREATE FUNCTION maintain_table(p_run_id bigint, p_config managed_table, p_move_limit bigint, p_raise_lock_errors boolean) RETURNS void
LANGUAGE plpgsql
SET search_path FROM CURRENT
SET TimeZone TO 'UTC'
AS $$
DECLARE
    v_state   text;
    v_message text;
    v_detail  text;
BEGIN
    BEGIN
        PERFORM set_config('TimeZone', p_config.time_zone, true);
        IF p_config.strategy = 'partman' THEN
            PERFORM maintain_partman_table(p_run_id, p_config, p_move_limit);
        ELSE
            PERFORM maintain_plpgsql_table(p_run_id, p_config, p_move_limit);
        END IF;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL;
        IF p_raise_lock_errors AND lock_failure(v_state, v_message) THEN
            RAISE EXCEPTION '%', v_message USING ERRCODE = 'lock_not_available';
        END IF;
        INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, detail)
        VALUES (p_run_id, p_config.parent_schema, p_config.parent_table, 'failed',
                concat_ws(' ', v_state || ':', v_message, nullif(v_detail, '')));
        RAISE WARNING 'partkit maintenance of %.% failed: % %', quote_ident(p_config.parent_schema),
            quote_ident(p_config.parent_table), v_state, v_message;
    END;
    IF p_config.purge_after IS NOT NULL THEN
        BEGIN
            PERFORM set_config('TimeZone', p_config.time_zone, true);
            PERFORM purge_archived_months(p_run_id, p_config);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL;
            IF p_raise_lock_errors AND lock_failure(v_state, v_message) THEN
                RAISE EXCEPTION '%', v_message USING ERRCODE = 'lock_not_available';
            END IF;
            INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, detail)
            VALUES (p_run_id, p_config.parent_schema, p_config.parent_table, 'failed',
                    concat_ws(' ', v_state || ':', 'purge:', v_message, nullif(v_detail, '')));
            RAISE WARNING 'partkit purge of %.% failed: % %', quote_ident(p_config.parent_schema),
                quote_ident(p_config.parent_table), v_state, v_message;
        END;
    END IF;
END;
$$;
