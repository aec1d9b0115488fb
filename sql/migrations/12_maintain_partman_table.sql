-- One managed table's maintenance delegated to pg_partman (4.7 or 5.x in p_config.partman_schema).
-- Both versions accept the same argument names for these calls but not the same positions, so
-- every call is by name. pg_partman does premake and retention (part_config.retention /
-- retention_schema); this function empties the default partition first, because a default holding
-- rows of a month stops pg_partman from creating that month, then reports what changed by
-- comparing the attached partitions before and after.
CREATE FUNCTION maintain_partman_table(p_run_id bigint, p_config managed_table) RETURNS void
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
    v_months       bigint;
    v_moved        bigint := 0;
    v_batch_moved  bigint;
    v_gone         record;
    v_retention_schema text;
    v_premake      integer;
    v_missing      timestamptz[];
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

    SELECT coalesce(jsonb_object_agg(i.inhrelid::text, qualified_name(i.inhrelid)), '{}')
      INTO v_before
      FROM pg_inherits i WHERE i.inhparent = v_parent;

    SELECT nullif(pt.partdefid, 0)::regclass INTO v_default
      FROM pg_partitioned_table pt WHERE pt.partrelid = v_parent;
    IF v_default IS NOT NULL THEN
        -- Out of the default, partition_data_time moves one partition interval per batch; ask for
        -- as many batches as there are months, and repeat while it still finds rows.
        LOOP
            EXECUTE format('SELECT count(DISTINCT date_trunc(''month'', %1$I)) FROM %2$s WHERE isfinite(%1$I)',
                           v_key.control_column, qualified_name(v_default))
               INTO v_months;
            EXIT WHEN v_months = 0;
            EXECUTE format('SELECT %I.partition_data_time(p_parent_table := $1, p_batch_count := $2, p_analyze := false)',
                           v_partman)
               INTO v_batch_moved
              USING v_config_name, v_months::integer;
            EXIT WHEN coalesce(v_batch_moved, 0) = 0;
            v_moved := v_moved + v_batch_moved;
        END LOOP;
        IF v_moved > 0 THEN
            INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, partition_name, detail, rows)
            VALUES (p_run_id, p_config.parent_schema, p_config.parent_table, 'moved', qualified_name(v_default),
                    'rows moved out of the default partition by pg_partman partition_data_time', v_moved);
        END IF;
    END IF;

    EXECUTE format('SELECT %I.run_maintenance(p_parent_table := $1, p_analyze := false)', v_partman)
      USING v_config_name;

    -- pg_partman premakes only after its newest child. When partition_data_time has made a month
    -- far ahead (rows that arrived early), the months between now and that child are never made,
    -- and their rows would wait in the default. So the current month through premake are made
    -- here, as the plpgsql strategy does. The session runs in the table's zone (run_maintenance
    -- set it), so date_trunc gives the zone's month starts; a month counts as present when a
    -- child holds its middle, compared in partition_bounds' form.
    EXECUTE format('SELECT c.premake FROM %I.part_config c WHERE c.parent_table = $1', v_partman)
       INTO v_premake
      USING v_config_name;
    SELECT array_agg(m.month_start ORDER BY m.month_start)
      INTO v_missing
      FROM generate_series(date_trunc('month', now()),
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
               AND b.upper_bound > p.middle);
    IF v_missing IS NOT NULL THEN
        -- p_analyze exists in 4.7 only; the two arguments below are spelled the same in 4.7 and 5.x.
        EXECUTE format('SELECT %I.create_partition_time(p_parent_table := $1, p_partition_times := $2)', v_partman)
          USING v_config_name, v_missing;
    END IF;

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
    END LOOP;
END;
$$;
