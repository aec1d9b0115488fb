-- The first step of a drain (see drain_step): decide which months the default partition's rows
-- go to, make a partitioned copy of the parent in the kit's schema with one partition per month
-- (under the month's final name in the parent's schema, each carrying the month's CHECK, the
-- parent's indexes and foreign keys, and pg_partman's template properties) and one for the rest
-- (the new default), and start capturing every change made to the default. A month waiting there
-- is a partition (of the copy), so verify does not take it for a month detached by hand, and
-- pg_partman, finding its name taken, does not make it. Returns false, having changed nothing, when no month can be made.
--
-- A month cannot be made when another partition overlaps it, when a table already has its name
-- (a month detached by hand), or when its name is too long: a 'failed' event says so, and its
-- rows stay in the default (the copy puts them in the new default). Rows without a month (NULL,
-- infinite) stay there too. Months past the retention are copied like the others and join the
-- archive after the swap (archive_late_rows).
--
-- The capture is a row trigger on the default (statement triggers of a partition do not fire for
-- rows routed through the parent): it records the primary key of each row inserted, updated or
-- deleted, old and new key of an update, in drain_<oid>_capture, in the writer's transaction.
-- CREATE TRIGGER takes SHARE ROW EXCLUSIVE on the default, so the rows of every transaction that
-- wrote to the default before are committed when the copy starts; the block count is read after it.
CREATE FUNCTION drain_begin(p_run_id bigint, p_config managed_table) RETURNS boolean
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_kit          name := current_schema();
    v_parent       regclass := to_regclass(format('%I.%I', p_config.parent_schema, p_config.parent_table));
    v_prefix       text;
    v_key          record;
    v_default      regclass;
    v_default_name name;
    v_local        text;       -- SQL expression: the control column as wall time in the table's zone
    v_month        record;
    v_bounds       record;
    v_child        text;
    v_problem      text;
    v_other        record;
    v_late         boolean;
    v_cutoff       timestamp;  -- wall time in the table's zone; months ending at or before it are past the retention
    v_retention    interval := p_config.retention;
    v_template     text;
    v_config_name  text := p_config.parent_schema || '.' || p_config.parent_table;
    v_months       jsonb := '[]';
    v_entry        jsonb;
    v_fk           record;
    v_key_columns  text[];
    v_capture      text;
    v_body         text;
    v_per_block    double precision;
BEGIN
    SELECT nullif(pt.partdefid, 0)::regclass INTO v_default FROM pg_partitioned_table pt WHERE pt.partrelid = v_parent;
    IF v_default IS NULL THEN
        RETURN false;
    END IF;
    SELECT c.relname INTO v_default_name FROM pg_class c WHERE c.oid = v_default;
    v_key := partition_key(v_parent);
    v_prefix := format('drain_%s', v_parent::oid);

    IF p_config.strategy = 'partman' THEN
        EXECUTE format('SELECT c.retention::interval, c.template_table FROM %I.part_config c WHERE c.parent_table = $1', p_config.partman_schema)
           INTO v_retention, v_template
          USING v_config_name;
    END IF;
    IF v_retention IS NOT NULL THEN
        v_cutoff := (now() AT TIME ZONE p_config.time_zone) - v_retention;
    END IF;

    v_local := CASE v_key.control_type
        WHEN 'timestamptz' THEN format('(%I AT TIME ZONE %L)', v_key.control_column, p_config.time_zone)
        ELSE format('%I::timestamp', v_key.control_column)
    END;
    FOR v_month IN EXECUTE format(
            'SELECT DISTINCT date_trunc(''month'', %1$s) AS month_start FROM ONLY %2$s WHERE isfinite(%3$I) ORDER BY 1',
            v_local, qualified_name(v_default), v_key.control_column)
    LOOP
        v_problem := NULL;
        v_child := NULL;
        v_late := v_cutoff IS NOT NULL AND v_month.month_start + interval '1 month' <= v_cutoff;
        IF extract(year FROM v_month.month_start) NOT BETWEEN 1 AND 9999 THEN
            v_problem := format('year must be between 1 and 9999, got %s', extract(year FROM v_month.month_start));
        ELSE
            BEGIN
                v_child := month_child_name(p_config, v_month.month_start);
            EXCEPTION WHEN name_too_long THEN
                v_problem := SQLERRM;
            END;
        END IF;
        v_bounds := month_bounds(v_key.control_type, p_config.time_zone, v_month.month_start);
        IF v_problem IS NULL AND NOT v_late THEN
            SELECT qualified_name(i.inhrelid) AS name, b.lower_bound, b.upper_bound INTO v_other
              FROM pg_inherits i
             CROSS JOIN LATERAL partition_bounds(i.inhrelid) b
             WHERE i.inhparent = v_parent AND NOT b.is_default
               AND b.lower_bound < v_bounds.upper_bound AND b.upper_bound > v_bounds.lower_bound
             LIMIT 1;
            IF FOUND THEN
                v_problem := format('new partition %I.%I [%s, %s) would overlap partition %s [%s, %s)', p_config.parent_schema, v_child,
                                    v_bounds.lower_bound, v_bounds.upper_bound, v_other.name, v_other.lower_bound, v_other.upper_bound);
            ELSIF to_regclass(format('%I.%I', p_config.parent_schema, v_child)) IS NOT NULL THEN
                v_problem := format('%I.%I already exists and is not a partition of %s', p_config.parent_schema, v_child, qualified_name(v_parent));
            END IF;
        END IF;
        IF v_problem IS NOT NULL THEN
            INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, detail)
            VALUES (p_run_id, p_config.parent_schema, p_config.parent_table, 'failed',
                    format('rows of %s stay in %s: %s', to_char(v_month.month_start, 'YYYY-MM'), qualified_name(v_default), v_problem));
            CONTINUE;
        END IF;
        v_months := v_months || jsonb_build_object(
            'start', to_char(v_month.month_start, 'YYYY-MM-DD HH24:MI:SS'),
            'child', v_child,
            -- Where the month waits, as a partition of the copy: a month under its final name in the
            -- parent's schema (its indexes get their final names now, and nothing is renamed under the
            -- swap's lock); rows past the retention in the kit's schema.
            'staged', CASE WHEN v_late THEN format('%I.%I', v_kit, format('%s_late%s', v_prefix, to_char(v_month.month_start, 'YYYYMM')))
                           ELSE format('%I.%I', p_config.parent_schema, v_child) END,
            'lower', v_bounds.lower_literal,
            'upper', v_bounds.upper_literal,
            'late', v_late);
    END LOOP;
    IF jsonb_array_length(v_months) = 0 THEN
        RETURN false;
    END IF;

    -- Detaching the old default checks that no row of another table points at its rows, and they
    -- all still do: such a table cannot be drained online.
    SELECT string_agg(format('%s (%I)', qualified_name(c.conrelid), c.conname), ', ') INTO v_problem
      FROM pg_constraint c WHERE c.contype = 'f' AND c.confrelid = v_parent AND c.conparentid = 0;
    IF v_problem IS NOT NULL THEN
        INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, detail)
        VALUES (p_run_id, p_config.parent_schema, p_config.parent_table, 'failed',
                format('rows stay in %s: foreign keys point at %s (%s), so its default partition cannot be swapped',
                       qualified_name(v_default), qualified_name(v_parent), v_problem));
        RETURN false;
    END IF;

    -- Leftovers of an earlier drain of this table that was abandoned halfway.
    PERFORM drain_drop_copies(v_prefix);

    -- The partitioned copy: the parent's columns, defaults, checks, generated columns and indexes
    -- (its partitions get every index the parent has, so ATTACH finds them and builds none). No
    -- identity: the rows keep their values.
    EXECUTE format('CREATE TABLE %I.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED '
                   'INCLUDING INDEXES INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE (%I)',
                   v_kit, v_prefix, qualified_name(v_parent), v_key.control_column);
    FOR v_entry IN SELECT value FROM jsonb_array_elements(v_months) LOOP
        EXECUTE format('CREATE TABLE %s PARTITION OF %I.%I FOR VALUES FROM (%L) TO (%L)',
                       v_entry->>'staged', v_kit, v_prefix, v_entry->>'lower', v_entry->>'upper');
        IF NOT (v_entry->>'late')::boolean THEN
            -- Proves the partition constraint when the month is attached: no scan under the lock.
            EXECUTE format('ALTER TABLE %s ADD CONSTRAINT partkit_drain_bounds CHECK (%I >= %L AND %I < %L)',
                           v_entry->>'staged', v_key.control_column, v_entry->>'lower', v_key.control_column, v_entry->>'upper');
        END IF;
    END LOOP;
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.%I DEFAULT', v_kit, v_prefix || '_rest', v_kit, v_prefix);
    FOR v_entry IN SELECT value FROM jsonb_array_elements(v_months) WHERE NOT (value->>'late')::boolean
                   UNION ALL SELECT jsonb_build_object('staged', format('%I.%I', v_kit, v_prefix || '_rest'))
    LOOP
        -- The parent's foreign keys, made on the empty table: ATTACH takes them over without
        -- validating the month's rows again.
        FOR v_fk IN SELECT c.conname, pg_get_constraintdef(c.oid) AS definition
                      FROM pg_constraint c WHERE c.conrelid = v_parent AND c.contype = 'f' ORDER BY c.conname
        LOOP
            EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', v_entry->>'staged', v_fk.conname, v_fk.definition);
        END LOOP;
        IF v_template IS NOT NULL THEN
            EXECUTE format('SELECT %I.inherit_template_properties($1, n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $2::regclass',
                           p_config.partman_schema)
              USING v_config_name, v_entry->>'staged';
        END IF;
    END LOOP;

    SELECT array_agg(a.attname::text ORDER BY k.ord) INTO v_key_columns
      FROM pg_index i
     CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE i.indrelid = v_parent AND i.indisprimary;
    IF v_key_columns IS NULL THEN
        RAISE EXCEPTION '% has no primary key; a drain needs one to replay the changes made while it copies', qualified_name(v_parent)
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    v_capture := format('%I.%I', v_kit, v_prefix || '_capture');
    EXECUTE format('CREATE TABLE %s (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, %s)', v_capture,
                   (SELECT string_agg(format('%I %s NOT NULL', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY k.ord)
                      FROM unnest(v_key_columns) WITH ORDINALITY AS k(name, ord)
                      JOIN pg_attribute a ON a.attrelid = v_parent AND a.attname = k.name));
    v_body := format($body$BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO %1$s (%2$s) VALUES (%3$s);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO %1$s (%2$s) VALUES (%4$s);
    END IF;
    RETURN NULL;
END$body$,
        v_capture,
        (SELECT string_agg(quote_ident(k), ', ') FROM unnest(v_key_columns) k),
        (SELECT string_agg('OLD.' || quote_ident(k), ', ') FROM unnest(v_key_columns) k),
        (SELECT string_agg('NEW.' || quote_ident(k), ', ') FROM unnest(v_key_columns) k));
    -- SECURITY DEFINER: the application's role needs no grant on the capture table.
    EXECUTE format('CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS %L',
                   v_capture, v_body);
    EXECUTE format('REVOKE ALL ON FUNCTION %s() FROM PUBLIC', v_capture);
    PERFORM drain_drop_triggers(v_default);
    EXECUTE format('CREATE TRIGGER partkit_drain_capture AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION %s()',
                   qualified_name(v_default), v_capture);
    -- A TRUNCATE removes rows without a trace in the capture: the copies would bring them back.
    EXECUTE format('CREATE TRIGGER partkit_drain_truncate BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION drain_refuse_truncate()',
                   qualified_name(v_default));

    -- About 20,000 rows in the first batch; drain_copy then sizes batches by how long they take.
    SELECT CASE WHEN c.relpages > 0 AND c.reltuples > 0 THEN c.reltuples / c.relpages END INTO v_per_block
      FROM pg_class c WHERE c.oid = v_default;
    INSERT INTO default_drain (parent_schema, parent_table, old_default, default_name, staging, months, end_block, batch_blocks)
    VALUES (p_config.parent_schema, p_config.parent_table, v_default, v_default_name, v_prefix, v_months,
            pg_relation_size(v_default) / current_setting('block_size')::bigint,
            greatest(1, ceil(20000 / coalesce(v_per_block, 60)))::bigint);
    RETURN true;
END;
$$;
