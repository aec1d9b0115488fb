-- The work behind create_monthly_partition. It also tells run_maintenance whether the child was
-- created now and how many rows it took out of the default partition.
CREATE OR REPLACE FUNCTION add_month_partition(
    p_parent regclass,
    p_year integer,
    p_month integer,
    OUT partition_name text,
    OUT created boolean,
    OUT rows_moved bigint
)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_parent_name   text := qualified_name(p_parent);
    v_schema        name;
    v_table         name;
    v_key           record;
    v_zone          text;
    v_child         text;
    v_month_start   timestamp := NULL;
    v_lower         timestamp;  -- comparable form, see partition_bounds
    v_upper         timestamp;
    v_lower_literal text;       -- what goes into FOR VALUES
    v_upper_literal text;
    v_existing      regclass;
    v_bounds        record;
    v_other         record;
    v_default       regclass;
    v_has_rows      boolean;
    v_columns       text;
BEGIN
    IF p_year IS NULL OR p_month IS NULL THEN
        RAISE EXCEPTION 'year and month are required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF p_month NOT BETWEEN 1 AND 12 THEN
        RAISE EXCEPTION 'month must be between 1 and 12, got %', p_month
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_year NOT BETWEEN 1 AND 9999 THEN
        RAISE EXCEPTION 'year must be between 1 and 9999, got %', p_year
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    SELECT n.nspname, c.relname INTO v_schema, v_table
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = p_parent;
    v_key := partition_key(p_parent);

    -- PostgreSQL silently truncates longer names, which would make two months collide.
    v_child := format('%s_y%sm%s', v_table, lpad(p_year::text, 4, '0'), lpad(p_month::text, 2, '0'));
    IF octet_length(v_child) > current_setting('max_identifier_length')::integer THEN
        RAISE EXCEPTION 'partition name % of % would be % bytes, over the limit of %',
                quote_ident(v_child), v_parent_name, octet_length(v_child),
                current_setting('max_identifier_length')
            USING ERRCODE = 'name_too_long', HINT = 'Give the parent table a shorter name.';
    END IF;
    partition_name := format('%I.%I', v_schema, v_child);
    created := false;
    rows_moved := 0;

    -- Month starts are midnights in the table's own zone, never the session's.
    SELECT m.time_zone INTO v_zone
      FROM managed_table m
     WHERE m.parent_schema = v_schema AND m.parent_table = v_table;
    v_zone := coalesce(v_zone, 'UTC');
    v_month_start := make_timestamp(p_year, p_month, 1, 0, 0, 0);
    SELECT b.lower_bound, b.upper_bound, b.lower_literal, b.upper_literal
      INTO v_lower, v_upper, v_lower_literal, v_upper_literal
      FROM month_bounds(v_key.control_type, v_zone, v_month_start) b;

    -- Fast path without a lock: premake asks for existing months on every run, and an ACCESS
    -- EXCLUSIVE request would queue behind (and block) every reader of a busy table.
    v_existing := to_regclass(partition_name);
    IF v_existing IS NOT NULL
       AND EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = v_existing AND i.inhparent = p_parent) THEN
        v_bounds := partition_bounds(v_existing);
        IF NOT v_bounds.is_default AND v_bounds.lower_bound = v_lower AND v_bounds.upper_bound = v_upper THEN
            RETURN;
        END IF;
    END IF;

    -- Concurrent callers serialize here; everything below is checked again under the lock.
    EXECUTE format('LOCK TABLE %I.%I IN ACCESS EXCLUSIVE MODE', v_schema, v_table);

    v_existing := to_regclass(partition_name);
    IF v_existing IS NOT NULL THEN
        IF NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = v_existing AND i.inhparent = p_parent) THEN
            RAISE EXCEPTION '% already exists and is not a partition of %', partition_name, v_parent_name
                USING ERRCODE = 'duplicate_table';
        END IF;
        v_bounds := partition_bounds(v_existing);
        IF v_bounds.is_default OR v_bounds.lower_bound <> v_lower OR v_bounds.upper_bound <> v_upper THEN
            RAISE EXCEPTION 'partition % of % covers [%, %), not the month [%, %) its name stands for',
                    partition_name, v_parent_name,
                    coalesce(v_bounds.lower_bound::text, 'DEFAULT'), coalesce(v_bounds.upper_bound::text, 'DEFAULT'),
                    v_lower, v_upper
                USING ERRCODE = 'duplicate_table',
                      DETAIL = CASE WHEN v_key.control_type = 'timestamptz' THEN 'Bounds are shown in UTC.' END;
        END IF;
        RETURN;
    END IF;

    SELECT qualified_name(i.inhrelid) AS name, b.lower_bound, b.upper_bound
      INTO v_other
      FROM pg_inherits i
     CROSS JOIN LATERAL partition_bounds(i.inhrelid) b
     WHERE i.inhparent = p_parent
       AND NOT b.is_default
       AND b.lower_bound < v_upper
       AND b.upper_bound > v_lower
     ORDER BY b.lower_bound
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'new partition % [%, %) would overlap partition % [%, %) of %',
                partition_name, v_lower, v_upper, v_other.name, v_other.lower_bound, v_other.upper_bound,
                v_parent_name
            USING ERRCODE = 'invalid_object_definition',
                  DETAIL = CASE WHEN v_key.control_type = 'timestamptz' THEN 'Bounds are shown in UTC.' END;
    END IF;

    SELECT nullif(pt.partdefid, 0)::regclass INTO v_default
      FROM pg_partitioned_table pt WHERE pt.partrelid = p_parent;
    IF v_default IS NOT NULL THEN
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE %I >= %L AND %I < %L)',
                       qualified_name(v_default), v_key.control_column, v_lower_literal,
                       v_key.control_column, v_upper_literal)
           INTO v_has_rows;
    END IF;

    IF NOT coalesce(v_has_rows, false) THEN
        EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.%I FOR VALUES FROM (%L) TO (%L)',
                       v_schema, v_child, v_schema, v_table, v_lower_literal, v_upper_literal);
        created := true;
        -- A table with time-ordered ids: the new month's id range (add_id_range).
        PERFORM add_id_range(partition_name::regclass);
        RETURN;
    END IF;

    -- The default partition holds rows of this month, so the child cannot be attached next to it:
    -- take the default out, create the child, move the rows, put the default back. All of it is
    -- in the caller's transaction, so a failure anywhere loses nothing.
    EXECUTE format('ALTER TABLE %I.%I DETACH PARTITION %s', v_schema, v_table, qualified_name(v_default));
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.%I FOR VALUES FROM (%L) TO (%L)',
                   v_schema, v_child, v_schema, v_table, v_lower_literal, v_upper_literal);
    -- Columns by name (the default may have a different physical column order); generated columns
    -- are recomputed, identity values are kept as they are.
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO v_columns
      FROM pg_attribute a
     WHERE a.attrelid = p_parent AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '';
    EXECUTE format('WITH moved AS (DELETE FROM %s WHERE %I >= %L AND %I < %L RETURNING %s) '
                   'INSERT INTO %I.%I (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM moved',
                   qualified_name(v_default), v_key.control_column, v_lower_literal,
                   v_key.control_column, v_upper_literal, v_columns,
                   v_schema, v_child, v_columns, v_columns);
    GET DIAGNOSTICS rows_moved = ROW_COUNT;
    EXECUTE format('ALTER TABLE %I.%I ATTACH PARTITION %s DEFAULT', v_schema, v_table, qualified_name(v_default));
    created := true;
    -- After the move, so that the rows keep their ids: the range is added only if they all lie in it.
    PERFORM add_id_range(partition_name::regclass);
END;
$$;
