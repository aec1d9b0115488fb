-- One managed table's maintenance delegated to pg_partman (4.7 or 5.x in p_config.partman_schema).
-- Both versions accept the same argument names for these calls but not the same positions, so
-- every call is by name. pg_partman does premake and retention (part_config.retention /
-- retention_schema); this function moves the rows waiting in the default partition first, because
-- a default holding rows of a month stops pg_partman from creating that month, makes the months
-- pg_partman leaves out, then reports what changed by comparing the attached partitions before and
-- after.
--
-- Default rows are moved without partition_data_time, which fails on 5.x for a GENERATED ALWAYS
-- identity column ("cannot insert a non-DEFAULT value") and on 4.7 for the second table of one
-- maintenance run (its session temp table keeps the first table's columns): the rows of each month
-- are taken out of the default under the parent's lock, the month is made by pg_partman
-- (create_partition_time), and the rows go back through the parent. That lock is held for a time
-- that grows with the rows, so this happens only when at most p_move_limit wait (and no drain of
-- the table is under way); more are left, with the months they need, for a drain in bounded steps
-- (drain_step, run by run_maintenance_proc).
--
-- Months held in archive_hold stay attached: pg_partman's retention is stretched for the run and the
-- months it then keeps that are not held are archived by the kit.
CREATE FUNCTION maintain_partman_table(p_run_id bigint, p_config managed_table, p_move_limit bigint) RETURNS void
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_parent       regclass := to_regclass(format('%I.%I', p_config.parent_schema, p_config.parent_table));
    v_partman      text := p_config.partman_schema;
    v_config_name  text;      -- the parent as part_config spells it
    v_key          record;
    v_default      regclass;
    v_before       jsonb;     -- oid -> qualified name of each attached partition
    v_before_month jsonb;     -- oid -> its month, written on it if retention archives it
    v_months       bigint;
    v_moved        bigint := 0;
    v_batch_moved  bigint;
    v_month        record;
    v_columns      text;
    v_holding      text;      -- temp table holding one month's rows while its child is made
    v_first_month  timestamptz;
    v_retention    interval;
    v_retention_cutoff timestamptz;
    v_has_rows     boolean;
    v_partman_major integer;
    v_retention_text text;     -- part_config.retention as configured
    v_oldest_held  timestamptz;
    v_stretched    boolean := false;
    v_old          record;
    v_gone         record;
    v_retention_schema text;
    v_premake      integer;
    v_missing      timestamptz[];
    v_leave        boolean := false;  -- rows in the default stay there, and so do their months
BEGIN
    IF v_parent IS NULL THEN
        RAISE EXCEPTION 'table %.% does not exist', quote_ident(p_config.parent_schema),
                quote_ident(p_config.parent_table)
            USING ERRCODE = 'undefined_table';
    END IF;
    IF to_regclass(format('%I.part_config', v_partman)) IS NULL THEN
        RAISE EXCEPTION 'pg_partman is not installed in schema %', quote_ident(v_partman)
            USING ERRCODE = 'undefined_object';
    END IF;
    EXECUTE format('SELECT c.parent_table FROM %I.part_config c WHERE c.parent_table = $1', v_partman)
       INTO v_config_name
      USING p_config.parent_schema || '.' || p_config.parent_table;
    IF v_config_name IS NULL THEN
        RAISE EXCEPTION '% is not in %.part_config', qualified_name(v_parent), quote_ident(v_partman)
            USING ERRCODE = 'undefined_object', HINT = 'Register it with create_parent first.';
    END IF;
    v_key := partition_key(v_parent);

    -- pg_partman moves months past its retention into retention_schema but does not create it.
    EXECUTE format('SELECT c.retention_schema FROM %I.part_config c WHERE c.parent_table = $1', v_partman)
       INTO v_retention_schema
      USING v_config_name;
    IF v_retention_schema IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = v_retention_schema) THEN
        EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I', v_retention_schema);
    END IF;

    -- pg_partman's run_maintenance skips its work silently if another session holds this lock
    -- (for instance its own pg_cron job); waiting for it here makes that skip impossible.
    PERFORM pg_advisory_xact_lock(hashtext('pg_partman run_maintenance'));

    SELECT coalesce(jsonb_object_agg(i.inhrelid::text, qualified_name(i.inhrelid)), '{}'),
           coalesce(jsonb_object_agg(i.inhrelid::text, partition_month(i.inhrelid)), '{}')
      INTO v_before, v_before_month
      FROM pg_inherits i WHERE i.inhparent = v_parent;

    SELECT nullif(pt.partdefid, 0)::regclass INTO v_default
      FROM pg_partitioned_table pt WHERE pt.partrelid = v_parent;
    IF v_default IS NOT NULL THEN
        -- The parent is locked, not only the default: a writer's UPDATE or DELETE planned before the
        -- new month is attached would look for its row in the default, find it gone and change
        -- nothing. Locked out until commit, it is planned again and finds the row in its month.
        -- The lock is taken only when the default holds rows with a month.
        v_leave := default_rows_waiting(v_default, p_move_limit + 1) > p_move_limit
                   OR EXISTS (SELECT 1 FROM default_drain d WHERE d.parent_schema = p_config.parent_schema AND d.parent_table = p_config.parent_table);
        v_has_rows := NOT v_leave AND default_rows_waiting(v_default, 1) > 0;
        IF v_has_rows THEN
            EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', qualified_name(v_parent));
        END IF;
        SELECT split_part(e.extversion, '.', 1)::integer INTO v_partman_major
          FROM pg_extension e WHERE e.extname = 'pg_partman';
        -- Columns by name; generated columns are recomputed, identity values are kept as they are.
        SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO v_columns
          FROM pg_attribute a
         WHERE a.attrelid = v_parent AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '';
        v_holding := format('partkit_default_rows_%s', v_parent::oid);
        EXECUTE format('SELECT now() - c.retention::interval FROM %I.part_config c WHERE c.parent_table = $1', v_partman)
           INTO v_retention_cutoff
          USING v_config_name;
        -- The session runs in the table's zone (run_maintenance set it), so date_trunc gives the
        -- zone's month starts, as pg_partman computes them. NULL and infinite values have no month.
        FOR v_month IN EXECUTE format(
                'SELECT DISTINCT date_trunc(''month'', %1$I::timestamptz) AS month_start FROM %2$s WHERE isfinite(%1$I) AND $1 ORDER BY 1',
                v_key.control_column, qualified_name(v_default)) USING v_has_rows
        LOOP
            -- A month wholly past the retention: its rows join the archived month (pg_partman would
            -- make the month, then fail to archive it into a name that is taken).
            IF v_retention_cutoff IS NOT NULL AND v_month.month_start + interval '1 month' <= v_retention_cutoff THEN
                PERFORM archive_late_rows(p_run_id, p_config, v_default, v_month.month_start::timestamp,
                                          p_config.parent_table || CASE WHEN v_partman_major >= 5
                                                                        THEN to_char(v_month.month_start, '"_p"YYYYMMDD')
                                                                        ELSE to_char(v_month.month_start, '"_p"YYYY"_"MM') END);
                CONTINUE;
            END IF;
            EXECUTE format('DROP TABLE IF EXISTS pg_temp.%I', v_holding);
            EXECUTE format('CREATE TEMP TABLE %I (LIKE %s)', v_holding, qualified_name(v_parent));
            EXECUTE format('WITH moved AS (DELETE FROM %1$s WHERE %2$I >= $1::%3$s AND %2$I < $2::%3$s RETURNING %4$s) '
                           'INSERT INTO pg_temp.%5$I (%4$s) SELECT %4$s FROM moved',
                           qualified_name(v_default), v_key.control_column, v_key.control_type, v_columns, v_holding)
              USING v_month.month_start, v_month.month_start + interval '1 month';
            GET DIAGNOSTICS v_batch_moved = ROW_COUNT;
            -- p_analyze exists in 4.7 only; the two arguments below are spelled the same in 4.7 and 5.x.
            EXECUTE format('SELECT %I.create_partition_time(p_parent_table := $1, p_partition_times := $2)', v_partman)
              USING v_config_name, ARRAY[v_month.month_start];
            -- Through the parent: into the new month, or back into the default if pg_partman could not
            -- attach one (a table of that name detached by hand is never written to).
            EXECUTE format('INSERT INTO %1$s (%2$s) OVERRIDING SYSTEM VALUE SELECT %2$s FROM pg_temp.%3$I',
                           qualified_name(v_parent), v_columns, v_holding);
            EXECUTE format('DROP TABLE pg_temp.%I', v_holding);
            v_moved := v_moved + v_batch_moved;
        END LOOP;
        IF v_moved > 0 THEN
            INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, partition_name, detail, rows)
            VALUES (p_run_id, p_config.parent_schema, p_config.parent_table, 'moved', qualified_name(v_default),
                    'rows moved out of the default partition into their months', v_moved);
        END IF;
    END IF;

    -- Months held attached by `archive restore --keep` (archive_hold). pg_partman's retention knows no
    -- per-month holds, so for this run it is stretched back to the oldest held month (in this
    -- transaction only), and the months past the configured retention that are not held are
    -- archived below as pg_partman would have: its rule is upper bound < now() - retention.
    EXECUTE format('SELECT c.retention FROM %I.part_config c WHERE c.parent_table = $1', v_partman)
       INTO v_retention_text
      USING v_config_name;
    SELECT min(CASE WHEN v_key.control_type = 'timestamptz' THEN b.lower_bound AT TIME ZONE 'UTC' ELSE b.lower_bound::timestamptz END)
      INTO v_oldest_held
      FROM pg_inherits i
     CROSS JOIN LATERAL partition_bounds(i.inhrelid) b
     WHERE i.inhparent = v_parent AND NOT b.is_default
       AND EXISTS (SELECT 1 FROM archive_hold h
                    WHERE h.parent_schema = p_config.parent_schema AND h.parent_table = p_config.parent_table
                      AND h.month = to_char(CASE WHEN v_key.control_type = 'timestamptz' THEN b.lower_bound AT TIME ZONE 'UTC'
                                                 ELSE b.lower_bound::timestamptz END, 'YYYY-MM'));
    IF v_retention_text IS NOT NULL AND v_oldest_held IS NOT NULL AND v_oldest_held < now() - v_retention_text::interval THEN
        EXECUTE format('UPDATE %I.part_config SET retention = $2 WHERE parent_table = $1', v_partman)
          USING v_config_name, (now() - v_oldest_held)::text;
        v_stretched := true;
    END IF;

    EXECUTE format('SELECT %I.run_maintenance(p_parent_table := $1, p_analyze := false)', v_partman)
      USING v_config_name;

    IF v_stretched THEN
        EXECUTE format('UPDATE %I.part_config SET retention = $2 WHERE parent_table = $1', v_partman)
          USING v_config_name, v_retention_text;
        FOR v_old IN
            SELECT i.inhrelid::regclass AS partition
              FROM pg_inherits i
             CROSS JOIN LATERAL partition_bounds(i.inhrelid) b
             WHERE i.inhparent = v_parent
               AND NOT b.is_default
               AND CASE WHEN v_key.control_type = 'timestamptz' THEN b.upper_bound AT TIME ZONE 'UTC' ELSE b.upper_bound::timestamptz END
                   < now() - v_retention_text::interval
               AND NOT EXISTS (SELECT 1 FROM archive_hold h
                                WHERE h.parent_schema = p_config.parent_schema AND h.parent_table = p_config.parent_table
                                  AND h.month = to_char(CASE WHEN v_key.control_type = 'timestamptz' THEN b.lower_bound AT TIME ZONE 'UTC'
                                                             ELSE b.lower_bound::timestamptz END, 'YYYY-MM'))
             ORDER BY b.upper_bound
        LOOP
            PERFORM archive_partition(v_parent, v_old.partition, coalesce(v_retention_schema, p_config.archive_schema));
        END LOOP;
    END IF;

    -- pg_partman premakes only after its newest child. When a month far ahead was made for rows
    -- that arrived early, the months between now and that child are never made; after downtime
    -- the months between the newest child and now may be missing too. So every month from the
    -- oldest one that retention keeps through premake is made here, as the plpgsql strategy does.
    -- The session runs in the table's zone, so date_trunc gives the zone's month starts; a month
    -- counts as present when a child holds its middle, compared in partition_bounds' form.
    EXECUTE format('SELECT c.premake, c.retention::interval FROM %I.part_config c WHERE c.parent_table = $1', v_partman)
       INTO v_premake, v_retention
      USING v_config_name;
    SELECT least(date_trunc('month', coalesce(min(CASE WHEN v_key.control_type = 'timestamptz'
                                                       THEN b.lower_bound AT TIME ZONE 'UTC'
                                                       ELSE b.lower_bound::timestamptz END), now())),
                 date_trunc('month', now()))
      INTO v_first_month
      FROM pg_inherits i
     CROSS JOIN LATERAL partition_bounds(i.inhrelid) b
     WHERE i.inhparent = v_parent AND NOT b.is_default AND isfinite(b.lower_bound);
    IF v_retention IS NOT NULL THEN
        v_first_month := greatest(v_first_month, date_trunc('month', now() - v_retention));
    END IF;
    SELECT array_agg(m.month_start ORDER BY m.month_start)
      INTO v_missing
      FROM generate_series(v_first_month,
                           date_trunc('month', now()) + make_interval(months => coalesce(v_premake, 0)),
                           interval '1 month') AS m(month_start)
     CROSS JOIN LATERAL (
            SELECT CASE v_key.control_type
                       WHEN 'timestamptz' THEN (m.month_start + interval '14 days') AT TIME ZONE 'UTC'
                       ELSE (m.month_start + interval '14 days')::timestamp
                   END AS middle
           ) p
     WHERE NOT EXISTS (
            SELECT 1
              FROM pg_inherits i
             CROSS JOIN LATERAL partition_bounds(i.inhrelid) b
             WHERE i.inhparent = v_parent
               AND NOT b.is_default
               AND b.lower_bound <= p.middle
               AND b.upper_bound > p.middle)
       -- Left for the drain: pg_partman cannot make a month whose rows wait in the default.
       AND NOT (v_leave AND default_has_month(v_default, format('%I::timestamptz::timestamp', v_key.control_column), m.month_start::timestamp));
    IF v_missing IS NOT NULL THEN
        -- p_analyze exists in 4.7 only; the two arguments below are spelled the same in 4.7 and 5.x.
        EXECUTE format('SELECT %I.create_partition_time(p_parent_table := $1, p_partition_times := $2)', v_partman)
          USING v_config_name, v_missing;
    END IF;
    -- A table with time-ordered ids: the id ranges of the months pg_partman made (add_id_ranges).
    PERFORM add_id_ranges(v_parent);

    INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, partition_name, detail)
    SELECT p_run_id, p_config.parent_schema, p_config.parent_table, 'created', qualified_name(i.inhrelid),
           'made by pg_partman'
      FROM pg_inherits i
     WHERE i.inhparent = v_parent AND NOT v_before ? i.inhrelid::text
     ORDER BY 5;

    -- Partitions that are no longer attached: pg_partman's retention detached (and maybe moved or
    -- dropped) them.
    FOR v_gone IN
        SELECT b.key::oid AS relid, b.value AS name
          FROM jsonb_each_text(v_before) b
         WHERE NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhparent = v_parent AND i.inhrelid = b.key::oid)
         ORDER BY b.value
    LOOP
        INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, partition_name, detail)
        VALUES (p_run_id, p_config.parent_schema, p_config.parent_table, 'detached', v_gone.name,
                CASE WHEN NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = v_gone.relid)
                     THEN 'detached and dropped by pg_partman retention'
                     ELSE format('detached by pg_partman retention, now %s', qualified_name(v_gone.relid))
                END);
        IF EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = v_gone.relid) THEN
            PERFORM mark_archived_month(v_gone.relid::regclass, v_parent, v_before_month ->> v_gone.relid::text);
        END IF;
    END LOOP;
END;
$$;
