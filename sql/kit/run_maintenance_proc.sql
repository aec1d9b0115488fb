-- The scheduled entry point (the kit's pg_cron job, `partkit maintain`, an external scheduler):
--   CALL <kit>.run_maintenance_proc();
-- maintains every managed table, or only p_table_name, in many short transactions, and returns
-- the run's id (maintenance_run / maintenance_event say what it did). For each table, in turn:
--   1. drain the default partition in bounded steps (drain_step): its rows are copied into the
--      months they belong to while the default stays attached, then one short transaction swaps
--      them in; however many rows wait, no writer or reader waits longer than one lock wait and
--      that swap;
--   2. the rest of the table's maintenance in one transaction (maintain_table_step): premake,
--      retention, purge.
-- Every lock is waited for at most p_lock_timeout (the pg_cron job's call too: 500ms by default); a
-- lock not taken in time is tried again after a growing pause with jitter, p_attempts times in all
-- (8 by default: about 20 s of trying), then the table's step is a 'failed' event naming the session
-- that held the lock (a drain then resumes in the next run). One failing table never stops the
-- others. `partkit maintain` passes p_attempts => 1 and retries a failed table itself.
--
-- A procedure, because it commits between steps; so it must be CALLed outside a transaction block
-- and, from pg_cron, as the job's only statement (a SET before it would open one). A procedure
-- that commits cannot pin its search_path the way the kit's functions do (a SET clause forbids
-- COMMIT), so its body names the kit's schema: written "@kit@" below, and put in right after.
-- Concurrent runs queue on the kit's key ('partkit' in ASCII) as a session lock, held across the
-- commits; a hold left by a run of this session that failed midway is released first.
CREATE PROCEDURE run_maintenance_proc(p_table_name text DEFAULT NULL, p_lock_timeout text DEFAULT '500ms', p_attempts integer DEFAULT 8, INOUT p_run_id bigint DEFAULT NULL)
LANGUAGE plpgsql
AS $$
DECLARE
    c_key       constant bigint := 31632341598955892;
    v_config    record;
    v_step      record;
    v_attempt   integer;
    v_tables    integer := 0;
    v_phase     text;
BEGIN
    FOR v_attempt IN 1..(SELECT count(*) FROM pg_locks l
                          WHERE l.locktype = 'advisory' AND l.pid = pg_backend_pid() AND l.granted
                            AND l.classid = (c_key >> 32)::oid AND l.objid = (c_key & 4294967295)::oid AND l.objsubid = 1) LOOP
        PERFORM pg_advisory_unlock(c_key);
    END LOOP;
    -- Queue behind another run for as long as it takes (an advisory lock blocks no table).
    PERFORM set_config('lock_timeout', '0', true);
    PERFORM pg_advisory_lock(c_key);
    p_run_id := "@kit@".maintenance_run_begin(p_table_name);
    COMMIT;
    -- One column holding the row: its type stays managed_table, which the steps take.
    FOR v_config IN SELECT m AS row FROM "@kit@".maintenance_tables(p_table_name) m LOOP
        v_tables := v_tables + 1;
        FOREACH v_phase IN ARRAY ARRAY['draining the default partition', 'premake and retention'] LOOP
            v_attempt := 0;
            LOOP
                IF v_phase = 'draining the default partition' THEN
                    v_step := "@kit@".drain_step(p_run_id, v_config.row, p_lock_timeout);
                ELSE
                    v_step := "@kit@".maintain_table_step(p_run_id, v_config.row, p_lock_timeout);
                END IF;
                COMMIT;
                EXIT WHEN v_step.next IN ('done', 'failed');
                IF v_step.next = 'retry' THEN
                    v_attempt := v_attempt + 1;
                    IF v_attempt >= greatest(p_attempts, 1) THEN
                        INSERT INTO "@kit@".maintenance_event (run_id, parent_schema, parent_table, action, detail)
                        VALUES (p_run_id, (v_config.row).parent_schema, (v_config.row).parent_table, 'failed',
                                format('55P03: %s: a lock on %I.%I was not taken in %s attempts of %s; %s', v_phase,
                                       (v_config.row).parent_schema, (v_config.row).parent_table, greatest(p_attempts, 1), p_lock_timeout,
                                       coalesce('held by ' || v_step.detail, 'its holder is gone')));
                        COMMIT;
                        EXIT;
                    END IF;
                    PERFORM pg_sleep(least(5, 0.1 * power(2, v_attempt)) * (0.5 + random()));
                ELSE
                    v_attempt := 0;
                END IF;
            END LOOP;
        END LOOP;
    END LOOP;
    PERFORM "@kit@".maintenance_run_end(p_run_id, v_tables);
    COMMIT;
    PERFORM pg_advisory_unlock(c_key);
END;
$$;

DO $$
BEGIN
    EXECUTE replace(pg_get_functiondef('run_maintenance_proc(text, text, integer, bigint)'::regprocedure), '"@kit@"', quote_ident(current_schema()));
END;
$$;
