-- The swap of a drain, in one short transaction under an ACCESS EXCLUSIVE lock on the parent
-- (DETACH of the default needs it; the caller's lock_timeout bounds the wait for it, and a lock
-- error leaves everything as it was): replay the last captured changes, detach the old default,
-- attach each month (already under its final name) and the new default. No ATTACH scans a month: each carries a validated CHECK
-- of its bounds, and the months are attached while the parent has no default. The new default is
-- scanned, but holds only rows no month takes. Readers and writers see every row in exactly one
-- attached partition before and after. Returns how long the lock was held, in ms.
--
-- Raises object_not_in_prerequisite_state, having changed nothing, when the table changed since
-- the drain began (another default, a month made meanwhile): the caller abandons the drain.
CREATE FUNCTION drain_swap(p_run_id bigint, p_config managed_table, p_drain default_drain) RETURNS numeric
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_kit        name := current_schema();
    v_parent     regclass := to_regclass(format('%I.%I', p_config.parent_schema, p_config.parent_table));
    v_old        regclass := p_drain.old_default::regclass;
    v_locked_at  timestamptz;
    v_month      jsonb;
    v_index      record;
    v_problem    text;
    v_key        record;
    v_privileges boolean := false;
    v_ms         numeric;
BEGIN
    -- The default too: a writer that names it directly takes no lock on the parent. ONLY: the
    -- other partitions are not touched, and a session reading one of them by name does not block.
    EXECUTE format('LOCK TABLE ONLY %s, ONLY %s IN ACCESS EXCLUSIVE MODE', qualified_name(v_parent), qualified_name(v_old));
    v_locked_at := clock_timestamp();
    v_key := partition_key(v_parent);

    IF (SELECT pt.partdefid FROM pg_partitioned_table pt WHERE pt.partrelid = v_parent) IS DISTINCT FROM p_drain.old_default THEN
        v_problem := 'its default partition is not the one being drained';
    ELSIF to_regclass(format('%I.%I', v_kit, p_drain.staging)) IS NULL THEN
        v_problem := format('the copy %I.%I is gone', v_kit, p_drain.staging);
    END IF;
    FOR v_month IN SELECT value FROM jsonb_array_elements(p_drain.months) WHERE NOT (value->>'late')::boolean LOOP
        EXIT WHEN v_problem IS NOT NULL;
        IF NOT EXISTS (SELECT 1 FROM pg_inherits i
                        WHERE i.inhrelid = to_regclass(v_month->>'staged') AND i.inhparent = to_regclass(format('%I.%I', v_kit, p_drain.staging))) THEN
            v_problem := format('%s is no longer a partition of the copy', v_month->>'staged');
        ELSIF EXISTS (SELECT 1 FROM pg_inherits i CROSS JOIN LATERAL partition_bounds(i.inhrelid) b
                       WHERE i.inhparent = v_parent AND NOT b.is_default
                         AND b.lower_bound < (month_bounds(v_key.control_type, p_config.time_zone, (v_month->>'start')::timestamp)).upper_bound
                         AND b.upper_bound > (month_bounds(v_key.control_type, p_config.time_zone, (v_month->>'start')::timestamp)).lower_bound) THEN
            v_problem := format('a partition overlapping %s was made meanwhile', to_char((v_month->>'start')::timestamp, 'YYYY-MM'));
        END IF;
    END LOOP;
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION 'the drain of % cannot be finished: %', qualified_name(v_parent), v_problem
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;

    WHILE drain_replay(p_drain, 10000) > 0 LOOP
    END LOOP;

    -- The old default leaves, renamed (with its indexes) out of the way of the names the new
    -- tables take; it is dropped after the commit.
    EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', qualified_name(v_parent), qualified_name(v_old));
    FOR v_index IN SELECT i.indexrelid FROM pg_index i WHERE i.indrelid = v_old ORDER BY 1 LOOP
        EXECUTE format('ALTER INDEX %s RENAME TO %I', qualified_name(v_index.indexrelid), format('%s_old_i%s', p_drain.staging, v_index.indexrelid));
    END LOOP;
    EXECUTE format('ALTER TABLE %s RENAME TO %I', qualified_name(v_old), p_drain.staging || '_old');

    FOR v_month IN SELECT value FROM jsonb_array_elements(p_drain.months) LOOP
        EXECUTE format('ALTER TABLE %I.%I DETACH PARTITION %s', v_kit, p_drain.staging, v_month->>'staged');
        CONTINUE WHEN (v_month->>'late')::boolean;
        EXECUTE format('ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM (%L) TO (%L)', qualified_name(v_parent),
                       v_month->>'staged', v_month->>'lower', v_month->>'upper');
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT partkit_drain_bounds', v_month->>'staged');
        -- A table with time-ordered ids: the month's id trigger now (no scan); its CHECK comes with add_id_ranges.
        PERFORM add_id_range((v_month->>'staged')::regclass, false);
    END LOOP;
    EXECUTE format('ALTER TABLE %I.%I DETACH PARTITION %I.%I', v_kit, p_drain.staging, v_kit, p_drain.staging || '_rest');
    PERFORM drain_move_in(format('%I.%I', v_kit, p_drain.staging || '_rest')::regclass, p_config.parent_schema, p_drain.default_name, p_drain.staging);
    EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I.%I DEFAULT', qualified_name(v_parent), p_config.parent_schema, p_drain.default_name);
    PERFORM add_id_range(format('%I.%I', p_config.parent_schema, p_drain.default_name)::regclass, false);

    -- pg_partman copies the parent's grants to the children it makes when told to.
    IF p_config.strategy = 'partman' THEN
        EXECUTE format('SELECT c.inherit_privileges FROM %I.part_config c WHERE c.parent_table = $1', p_config.partman_schema)
           INTO v_privileges
          USING p_config.parent_schema || '.' || p_config.parent_table;
        IF v_privileges THEN
            FOR v_month IN SELECT value FROM jsonb_array_elements(p_drain.months) WHERE NOT (value->>'late')::boolean
                           UNION ALL SELECT jsonb_build_object('child', p_drain.default_name)
            LOOP
                EXECUTE format('SELECT %I.apply_privileges($1, $2, $1, $3)', p_config.partman_schema)
                  USING p_config.parent_schema, p_config.parent_table, v_month->>'child';
            END LOOP;
        END IF;
    END IF;

    v_ms := round((extract(epoch FROM clock_timestamp() - v_locked_at) * 1000)::numeric, 1);
    UPDATE default_drain d SET phase = 'swapped', locked_ms = v_ms
     WHERE d.parent_schema = p_drain.parent_schema AND d.parent_table = p_drain.parent_table;
    INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, partition_name, detail)
    SELECT p_run_id, p_config.parent_schema, p_config.parent_table, 'created', format('%I.%I', p_config.parent_schema, m.value->>'child'),
           format('with its rows, drained out of %I.%I and attached without a scan', p_config.parent_schema, p_drain.default_name)
      FROM jsonb_array_elements(p_drain.months) m
     WHERE NOT (m.value->>'late')::boolean
     ORDER BY m.value->>'start';
    RETURN v_ms;
END;
$$;
