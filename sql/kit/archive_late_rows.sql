-- Late rows: rows that arrive in the default partition for a month already past the retention
-- (offline clients syncing, imports, clock skew). Making that month a partition again would only
-- have retention archive it a second time, into a name that is taken. Instead the rows join their
-- month in the archive schema: the archived table of that month (the next `archive export` sees
-- its row count changed and writes the month again), or, when there is none, a new archived table
-- under the month's usual name. When that month's archived table was already exported and
-- dropped, the file must not be overwritten by the late rows alone: they go into
-- `<month name>_late`, kept in the archive schema and reported by verify. The rows move out of
-- p_default: the default partition (under the caller's lock on the parent), or a table a drain
-- copied them into; each move is recorded as a 'late' event.
CREATE OR REPLACE FUNCTION archive_late_rows(
    p_run_id bigint,
    p_config managed_table,
    p_default regclass,
    p_month_start timestamp,   -- wall time in the table's zone
    p_child_name text          -- the name the month's partition has under the table's strategy
) RETURNS bigint
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_parent   regclass := to_regclass(format('%I.%I', p_config.parent_schema, p_config.parent_table));
    v_key      record;
    v_lower    text;
    v_upper    text;
    v_target   text := p_child_name;
    v_columns  text;
    v_moved    bigint;
    v_dropped  boolean;
BEGIN
    v_key := partition_key(v_parent);
    SELECT b.lower_literal, b.upper_literal INTO v_lower, v_upper
      FROM month_bounds(v_key.control_type, p_config.time_zone, p_month_start) b;
    IF NOT EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = p_config.archive_schema) THEN
        EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I', p_config.archive_schema);
    END IF;
    IF to_regclass(format('%I.%I', p_config.archive_schema, v_target)) IS NULL THEN
        SELECT EXISTS (SELECT 1 FROM archive_export e
                        WHERE e.archive_schema = p_config.archive_schema AND e.archived_table = v_target
                          AND e.dropped_at IS NOT NULL)
          INTO v_dropped;
        IF v_dropped THEN
            v_target := v_target || '_late';
        END IF;
        IF octet_length(v_target) > current_setting('max_identifier_length')::integer THEN
            RAISE EXCEPTION 'archived table name % would be over % bytes', quote_ident(v_target),
                    current_setting('max_identifier_length')
                USING ERRCODE = 'name_too_long';
        END IF;
        IF to_regclass(format('%I.%I', p_config.archive_schema, v_target)) IS NULL THEN
            -- Shaped like a detached month: the parent's columns, defaults, checks and indexes.
            EXECUTE format('CREATE TABLE %I.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING STORAGE)',
                           p_config.archive_schema, v_target, qualified_name(v_parent));
        END IF;
    END IF;
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO v_columns
      FROM pg_attribute a
     WHERE a.attrelid = v_parent AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '';
    EXECUTE format('WITH moved AS (DELETE FROM %1$s WHERE %2$I >= %3$L AND %2$I < %4$L RETURNING %5$s) '
                   'INSERT INTO %6$I.%7$I (%5$s) OVERRIDING SYSTEM VALUE SELECT %5$s FROM moved',
                   qualified_name(p_default), v_key.control_column, v_lower, v_upper, v_columns,
                   p_config.archive_schema, v_target);
    GET DIAGNOSTICS v_moved = ROW_COUNT;
    IF v_moved > 0 THEN
        INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, partition_name, detail, rows)
        VALUES (p_run_id, p_config.parent_schema, p_config.parent_table, 'late', format('%I.%I', p_config.archive_schema, v_target),
                format('late rows of %s, past the retention of %s, joined the archived month', to_char(p_month_start, 'YYYY-MM'), p_config.retention),
                v_moved);
    END IF;
    RETURN v_moved;
END;
$$;
