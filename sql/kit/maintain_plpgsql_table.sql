-- One managed table's maintenance with the kit's own functions: move the rows waiting in the
-- default partition into their months (late rows of archived months into the archive), make every
-- month from the oldest kept one through the coming `premake` (so that a long downtime leaves no
-- gap), give months without their id range one (a table with time-ordered ids), archive the
-- months past retention. Every change is written to maintenance_event under p_run_id. Errors
-- propagate to the caller (maintain_table), which records them and goes on with the next table. A
-- month held in archive_hold is not archived.
--
-- Default rows are moved here under an ACCESS EXCLUSIVE lock on the parent, which is held for a
-- time that grows with them; so only when at most p_move_limit wait (and no drain of the table is
-- under way). More are left where they are, with the months they need, for a drain in bounded
-- steps (drain_step, run by run_maintenance_proc).
CREATE FUNCTION maintain_plpgsql_table(p_run_id bigint, p_config managed_table, p_move_limit bigint) RETURNS void
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_parent      regclass := to_regclass(format('%I.%I', p_config.parent_schema, p_config.parent_table));
    v_key         record;
    v_default     regclass;
    v_local       text;       -- SQL expression: the control column as wall time in the table's zone
    v_month       record;
    v_result      record;
    v_this_month  timestamp;
    v_first_month timestamp;  -- the oldest month to keep present, wall time in the table's zone
    v_oldest      timestamp;
    v_cutoff      timestamp;  -- comparable form, see partition_bounds
    v_old         record;
    v_archived    text;
    v_state       text;
    v_message     text;
    v_leave       boolean := false;  -- rows in the default stay there, and so do their months
BEGIN
    IF v_parent IS NULL THEN
        RAISE EXCEPTION 'table %.% does not exist', quote_ident(p_config.parent_schema),
                quote_ident(p_config.parent_table)
            USING ERRCODE = 'undefined_table';
    END IF;
    v_key := partition_key(v_parent);
    IF v_key.control_column <> p_config.control_column OR v_key.control_type <> p_config.control_type THEN
        RAISE EXCEPTION '% is partitioned on % (%), but managed_table says % (%)', qualified_name(v_parent),
                quote_ident(v_key.control_column), v_key.control_type,
                quote_ident(p_config.control_column), p_config.control_type
            USING ERRCODE = 'invalid_object_definition';
    END IF;

    -- Rows that arrived before their month existed.
    SELECT nullif(pt.partdefid, 0)::regclass INTO v_default
      FROM pg_partitioned_table pt WHERE pt.partrelid = v_parent;
    v_local := CASE v_key.control_type
        WHEN 'timestamptz' THEN format('(%I AT TIME ZONE %L)', v_key.control_column, p_config.time_zone)
        ELSE format('%I::timestamp', v_key.control_column)
    END;
    IF v_default IS NOT NULL THEN
        v_leave := default_rows_waiting(v_default, p_move_limit + 1) > p_move_limit
                   OR EXISTS (SELECT 1 FROM default_drain d WHERE d.parent_schema = p_config.parent_schema AND d.parent_table = p_config.parent_table);
    END IF;
    IF v_default IS NOT NULL AND NOT v_leave THEN
        -- NULL and infinite values have no month; they stay in the default partition.
        FOR v_month IN EXECUTE format(
                'SELECT DISTINCT extract(year FROM %1$s)::integer AS y, extract(month FROM %1$s)::integer AS m '
                'FROM %2$s WHERE isfinite(%3$I) ORDER BY 1, 2',
                v_local, qualified_name(v_default), v_key.control_column)
        LOOP
            -- A month wholly past the retention: its rows join the archived month.
            IF p_config.retention IS NOT NULL
               AND make_timestamp(v_month.y, v_month.m, 1, 0, 0, 0) + interval '1 month'
                   <= (now() AT TIME ZONE p_config.time_zone) - p_config.retention THEN
                EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', qualified_name(v_parent));
                PERFORM archive_late_rows(p_run_id, p_config, v_default, make_timestamp(v_month.y, v_month.m, 1, 0, 0, 0),
                                          format('%s_y%sm%s', p_config.parent_table, lpad(v_month.y::text, 4, '0'), lpad(v_month.m::text, 2, '0')));
                CONTINUE;
            END IF;
            -- A month that cannot be made (say it overlaps a hand-made partition) is reported and
            -- its rows stay in the default; it must not stop premake and retention below.
            BEGIN
                v_result := add_month_partition(v_parent, v_month.y, v_month.m);
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
                -- A lock not taken in time is the whole table's to retry (maintain_table_step).
                IF lock_failure(v_state, v_message) THEN
                    RAISE;
                END IF;
                INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, detail)
                VALUES (p_run_id, p_config.parent_schema, p_config.parent_table, 'failed',
                        format('%s: rows of %s-%s stay in %s: %s', v_state, v_month.y, lpad(v_month.m::text, 2, '0'),
                               qualified_name(v_default), v_message));
                CONTINUE;
            END;
            IF v_result.created THEN
                INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, partition_name, detail)
                VALUES (p_run_id, p_config.parent_schema, p_config.parent_table, 'created', v_result.partition_name,
                        'for rows waiting in the default partition');
            END IF;
            INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, partition_name, detail, rows)
            VALUES (p_run_id, p_config.parent_schema, p_config.parent_table, 'moved', v_result.partition_name,
                    format('rows moved out of %s', qualified_name(v_default)), v_result.rows_moved);
        END LOOP;
    END IF;

    -- Every month from the oldest attached one that retention keeps through the current month and
    -- the next `premake`, counted in the table's zone: after downtime (a scheduler that was down for
    -- a year) the months between the newest child and now are made too, so coverage has no gap.
    v_this_month := date_trunc('month', now() AT TIME ZONE p_config.time_zone);
    SELECT min(CASE WHEN v_key.control_type = 'timestamptz'
                    THEN (b.lower_bound AT TIME ZONE 'UTC') AT TIME ZONE p_config.time_zone
                    ELSE b.lower_bound END)
      INTO v_oldest
      FROM pg_inherits i
     CROSS JOIN LATERAL partition_bounds(i.inhrelid) b
     WHERE i.inhparent = v_parent AND NOT b.is_default AND isfinite(b.lower_bound);
    v_first_month := least(date_trunc('month', coalesce(v_oldest, v_this_month)), v_this_month);
    IF p_config.retention IS NOT NULL THEN
        v_first_month := greatest(v_first_month,
                                  date_trunc('month', (now() AT TIME ZONE p_config.time_zone) - p_config.retention));
    END IF;
    FOR v_month IN
        SELECT m.month_start
          FROM generate_series(v_first_month, v_this_month + make_interval(months => p_config.premake),
                               interval '1 month') AS m(month_start)
         -- a month already inside some partition (say an adopted wider one) is covered
         WHERE NOT EXISTS (
                SELECT 1
                  FROM pg_inherits i
                 CROSS JOIN LATERAL partition_bounds(i.inhrelid) b
                 WHERE i.inhparent = v_parent
                   AND NOT b.is_default
                   AND b.lower_bound <= CASE WHEN v_key.control_type = 'timestamptz'
                                             THEN ((m.month_start + interval '14 days') AT TIME ZONE p_config.time_zone) AT TIME ZONE 'UTC'
                                             ELSE m.month_start + interval '14 days' END
                   AND b.upper_bound > CASE WHEN v_key.control_type = 'timestamptz'
                                            THEN ((m.month_start + interval '14 days') AT TIME ZONE p_config.time_zone) AT TIME ZONE 'UTC'
                                            ELSE m.month_start + interval '14 days' END)
         ORDER BY 1
    LOOP
        -- Left for the drain: making this month would move its rows under the lock.
        IF v_leave AND default_has_month(v_default, v_local, v_month.month_start) THEN
            CONTINUE;
        END IF;
        v_result := add_month_partition(v_parent,
                                        extract(year FROM v_month.month_start)::integer,
                                        extract(month FROM v_month.month_start)::integer);
        IF v_result.created THEN
            INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, partition_name, detail, rows)
            VALUES (p_run_id, p_config.parent_schema, p_config.parent_table, 'created', v_result.partition_name,
                    CASE WHEN v_month.month_start < v_this_month THEN 'missing month between the oldest kept and now'
                         ELSE 'premade' END,
                    nullif(v_result.rows_moved, 0));
        END IF;
    END LOOP;
    -- A table with time-ordered ids: months that have no id range yet (made by hand, or before the
    -- table was registered) get one when they are empty or hold few rows (add_id_ranges).
    IF p_config.id_ranges THEN
        PERFORM add_id_ranges(v_parent);
    END IF;

    IF p_config.retention IS NULL THEN
        RETURN;
    END IF;
    -- A month goes once all of it is older than the retention: its upper bound <= now() - retention,
    -- with the month arithmetic done in the table's zone.
    v_cutoff := (now() AT TIME ZONE p_config.time_zone) - p_config.retention;
    IF v_key.control_type = 'timestamptz' THEN
        v_cutoff := (v_cutoff AT TIME ZONE p_config.time_zone) AT TIME ZONE 'UTC';
    END IF;
    FOR v_old IN
        SELECT i.inhrelid::regclass AS partition, qualified_name(i.inhrelid) AS name, b.upper_bound
          FROM pg_inherits i
         CROSS JOIN LATERAL partition_bounds(i.inhrelid) b
         WHERE i.inhparent = v_parent
           AND NOT b.is_default
           AND b.upper_bound <= v_cutoff
           -- A held month stays (bounds are UTC wall time for timestamptz, see partition_bounds).
           AND NOT EXISTS (
                SELECT 1 FROM archive_hold h
                 WHERE h.parent_schema = p_config.parent_schema AND h.parent_table = p_config.parent_table
                   AND h.month = to_char(CASE WHEN v_key.control_type = 'timestamptz'
                                              THEN (b.lower_bound AT TIME ZONE 'UTC') AT TIME ZONE p_config.time_zone
                                              ELSE b.lower_bound END, 'YYYY-MM'))
         ORDER BY b.upper_bound
    LOOP
        v_archived := archive_partition(v_parent, v_old.partition, p_config.archive_schema);
        INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, partition_name, detail)
        VALUES (p_run_id, p_config.parent_schema, p_config.parent_table, 'detached', v_old.name,
                format('past the retention of %s', p_config.retention));
        IF v_archived <> v_old.name THEN
            INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, partition_name, detail)
            VALUES (p_run_id, p_config.parent_schema, p_config.parent_table, 'moved', v_archived,
                    format('archived from %s', v_old.name));
        END IF;
    END LOOP;
END;
$$;
