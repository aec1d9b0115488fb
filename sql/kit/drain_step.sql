-- One step of draining a table's default partition, small enough for one short transaction; the
-- caller (run_maintenance_proc) commits after each and calls again until `next` is 'done'.
--   no drain yet:   drain_begin (or 'done' when no month can be made)
--   copying:        one batch of the copy, then a replay of the changes captured meanwhile; once
--                   copied, replay rounds until few changes wait; then the swap (drain_swap)
--   swapped:        drain_finish, one piece at a time
-- Every lock is waited for at most p_lock_timeout. A lock not taken in time rolls the step back
-- and returns 'retry' with the session holding a lock on the table in `detail`; the caller backs
-- off and calls again. Any other error is a 'failed' event and returns 'failed': the drain stays as
-- it is for the next run. A drain whose table changed since it began is given up and begun again.
CREATE FUNCTION drain_step(p_run_id bigint, p_config managed_table, p_lock_timeout text, OUT next text, OUT detail text)
LANGUAGE plpgsql
SET search_path FROM CURRENT
SET TimeZone TO 'UTC'
AS $$
DECLARE
    v_kit      name := current_schema();
    v_parent   regclass := to_regclass(format('%I.%I', p_config.parent_schema, p_config.parent_table));
    v_drain    default_drain;
    v_default  oid;
    v_backlog  bigint;
    v_reason   text;
    v_state    text;
    v_message  text;
BEGIN
    PERFORM set_config('lock_timeout', p_lock_timeout, true);
    next := 'continue';
    SELECT nullif(pt.partdefid, 0) INTO v_default FROM pg_partitioned_table pt WHERE pt.partrelid = v_parent;
    SELECT d.* INTO v_drain FROM default_drain d
     WHERE d.parent_schema = p_config.parent_schema AND d.parent_table = p_config.parent_table;
    BEGIN
        IF v_drain.parent_table IS NULL THEN
            IF v_parent IS NULL OR NOT drain_begin(p_run_id, p_config) THEN
                next := 'done';
            END IF;
            RETURN;
        END IF;
        IF v_drain.phase = 'swapped' THEN
            IF drain_finish(p_run_id, p_config, v_drain) THEN
                next := 'done';
            END IF;
            RETURN;
        END IF;
        IF v_parent IS NULL OR v_default IS DISTINCT FROM v_drain.old_default
           OR to_regclass(format('%I.%I', v_kit, v_drain.staging)) IS NULL
           OR to_regclass(format('%I.%I', v_kit, v_drain.staging || '_capture')) IS NULL
           OR NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = v_drain.old_default AND t.tgname = 'partkit_drain_capture') THEN
            v_reason := 'the table, its default partition or the copies changed since it began';
        ELSIF v_drain.next_block < v_drain.end_block THEN
            PERFORM drain_copy(v_drain);
            PERFORM drain_replay(v_drain, 10000);
            RETURN;
        ELSE
            EXECUTE format('SELECT count(*) FROM %I.%I', v_kit, v_drain.staging || '_capture') INTO v_backlog;
            -- The swap replays what is left under its lock: make that little first.
            IF v_backlog > 1000 AND v_drain.rounds < 20 THEN
                PERFORM drain_replay(v_drain, 50000);
                UPDATE default_drain d SET rounds = d.rounds + 1
                 WHERE d.parent_schema = v_drain.parent_schema AND d.parent_table = v_drain.parent_table;
                RETURN;
            END IF;
            PERFORM drain_swap(p_run_id, p_config, v_drain);
            RETURN;
        END IF;
    EXCEPTION
        WHEN lock_not_available OR deadlock_detected THEN
            next := 'retry';
            detail := lock_holder(ARRAY[v_parent, v_default::regclass]);
            RETURN;
        WHEN object_not_in_prerequisite_state THEN
            -- drain_swap's: the table changed since the drain began
            v_reason := SQLERRM;
        WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
            IF lock_failure(v_state, v_message) THEN
                next := 'retry';
                detail := lock_holder(ARRAY[v_parent, v_default::regclass]);
                RETURN;
            END IF;
            INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, detail)
            VALUES (p_run_id, p_config.parent_schema, p_config.parent_table, 'failed',
                    format('%s: draining the default partition: %s', v_state, v_message));
            next := 'failed';
            detail := v_message;
            RETURN;
    END;
    IF v_drain.parent_table IS NULL THEN
        INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, detail)
        VALUES (p_run_id, p_config.parent_schema, p_config.parent_table, 'failed', 'draining the default partition: ' || v_reason);
        next := 'failed';
        detail := v_reason;
        RETURN;
    END IF;
    BEGIN
        PERFORM drain_abandon(p_run_id, p_config, v_drain, v_reason);
    EXCEPTION WHEN lock_not_available OR deadlock_detected THEN
        next := 'retry';
        detail := lock_holder(ARRAY[v_parent, v_drain.old_default::regclass]);
    END;
END;
$$;
