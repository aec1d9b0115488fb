-- Every partition of a table with time-ordered ids that has no id range yet gets one (add_id_range):
-- the default, the months pg_partman made, months made before the table was registered. A month
-- holding more than 10,000 rows is left alone (validating its CHECK would hold the month's lock for
-- a scan of it). A partition whose lock is not granted at once (NOWAIT) is left for the next run
-- rather than queueing ahead of the application's queries or deadlocking with a writer. A table without time-ordered ids
-- (managed_table.id_ranges false: adopted, or "ids": "random") returns at once, without counting
-- the rows of its months. Returns how many got their range.
CREATE FUNCTION add_id_ranges(p_parent regclass) RETURNS integer
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_child     record;
    v_rows      bigint;
    v_added     integer := 0;
    v_lock_wait text := current_setting('lock_timeout');
BEGIN
    IF NOT EXISTS (SELECT 1
                     FROM pg_class c
                     JOIN pg_namespace n ON n.oid = c.relnamespace
                     JOIN managed_table m ON m.parent_schema = n.nspname AND m.parent_table = c.relname
                    WHERE c.oid = p_parent AND m.id_ranges) THEN
        RETURN 0;
    END IF;
    FOR v_child IN
        SELECT i.inhrelid::regclass AS partition
          FROM pg_inherits i
         WHERE i.inhparent = p_parent
           AND (NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = i.inhrelid AND t.tgname = 'partkit_id_range')
                -- a month a drain attached has the trigger, and gets its CHECK here
                OR (NOT (partition_bounds(i.inhrelid)).is_default
                    AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = i.inhrelid AND k.conname = 'partkit_id_range')))
         ORDER BY 1
    LOOP
        BEGIN
            PERFORM set_config('lock_timeout', '1s', true);
            -- NOWAIT: maintenance may already hold a month it made, which a writer moving a row can be
            -- waiting for; waiting here for that writer's month would be a deadlock (and the writer its victim).
            EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE NOWAIT', qualified_name(v_child.partition));
            EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %s LIMIT 10001) r', qualified_name(v_child.partition)) INTO v_rows;
            IF (v_rows <= 10000 OR (partition_bounds(v_child.partition)).is_default) AND add_id_range(v_child.partition) THEN
                v_added := v_added + 1;
            END IF;
            PERFORM set_config('lock_timeout', v_lock_wait, true);
        EXCEPTION WHEN lock_not_available THEN
            PERFORM set_config('lock_timeout', v_lock_wait, true);
        END;
    END LOOP;
    RETURN v_added;
END;
$$;
