-- Maintenance after downtime and with rows waiting in the default partition: both strategies
-- now keep every month from the oldest one retention keeps through premake (no gap after a
-- scheduler was down), and the pg_partman strategy no longer relies on partition_data_time.

-- Late rows: rows that arrive in the default partition for a month already past the retention
-- (offline clients syncing, imports, clock skew). Making that month a partition again would only
-- have retention archive it a second time, into a name that is taken. Instead the rows join their
-- month in the archive schema: the archived table of that month (the next `archive export` sees
-- its row count changed and writes the month again), or, when there is none, a new archived table
-- under the month's usual name. When that month's archived table was already exported and
-- dropped, the file must not be overwritten by the late rows alone: they go into
-- `<month name>_late`, kept in the archive schema and reported by verify. The rows move under
-- the caller's lock on the parent; each move is recorded as a 'late' event.
ALTER TABLE maintenance_event DROP CONSTRAINT IF EXISTS maintenance_event_action_check;
ALTER TABLE maintenance_event ADD CONSTRAINT maintenance_event_action_check
    CHECK (action IN ('created', 'moved', 'detached', 'failed', 'purged', 'purge-skipped', 'late'));

CREATE FUNCTION archive_late_rows(
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
    IF v_key.control_type = 'timestamptz' THEN
        v_lower := to_char((p_month_start AT TIME ZONE p_config.time_zone) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00';
        v_upper := to_char(((p_month_start + interval '1 month') AT TIME ZONE p_config.time_zone) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00';
    ELSE
        v_lower := to_char(p_month_start, 'YYYY-MM-DD HH24:MI:SS');
        v_upper := to_char(p_month_start + interval '1 month', 'YYYY-MM-DD HH24:MI:SS');
    END IF;
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

-- Per-month holds: `partkit archive restore --attach --keep` puts a month back into its table
-- even though it is past retention, and records a hold here so that maintenance leaves it
-- attached instead of archiving it again. One row per (table, month); deleting the row lets the
-- next maintenance run archive the month as usual.
CREATE TABLE archive_hold (
    parent_schema text        NOT NULL,
    parent_table  text        NOT NULL,
    -- The month as the table's zone names it.
    month         text        NOT NULL CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    reason        text,
    held_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (parent_schema, parent_table, month)
);

-- One managed table's maintenance with the kit's own functions: empty the default partition into
-- its months (late rows of archived months into the archive), make every month from the oldest
-- kept one through the coming `premake` (so that a long downtime leaves no gap), archive the
-- months past retention. Replaces the version of migration 11. Every change is written to
-- maintenance_event under p_run_id. Errors propagate to run_maintenance, which records them and
-- goes on with the next table. A month held in archive_hold is not archived.
CREATE OR REPLACE FUNCTION maintain_plpgsql_table(p_run_id bigint, p_config managed_table) RETURNS void
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
    IF v_default IS NOT NULL THEN
        v_local := CASE v_key.control_type
            WHEN 'timestamptz' THEN format('(%I AT TIME ZONE %L)', v_key.control_column, p_config.time_zone)
            ELSE format('%I::timestamp', v_key.control_column)
        END;
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

-- One managed table's maintenance delegated to pg_partman (4.7 or 5.x in p_config.partman_schema).
-- Both versions accept the same argument names for these calls but not the same positions, so
-- every call is by name. pg_partman does premake and retention (part_config.retention /
-- retention_schema); this function empties the default partition first, because a default holding
-- rows of a month stops pg_partman from creating that month, makes the months pg_partman leaves
-- out, then reports what changed by comparing the attached partitions before and after.
--
-- Replaces the version of migration 12, which moved rows with pg_partman's partition_data_time:
-- that fails on 5.x for a GENERATED ALWAYS identity column ("cannot insert a non-DEFAULT value"),
-- and on 4.7 for the second table of one maintenance run (its session temp table keeps the first
-- table's columns). Here the rows of each month are taken out of the default under its lock, the
-- month is made by pg_partman (create_partition_time), and the rows go back through the parent.
--
-- Months held in archive_hold stay attached: pg_partman's retention is stretched for the run and the
-- months it then keeps that are not held are archived by the kit.
CREATE OR REPLACE FUNCTION maintain_partman_table(p_run_id bigint, p_config managed_table) RETURNS void
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
        -- The parent is locked, not only the default: a writer's UPDATE or DELETE planned before the
        -- new month is attached would look for its row in the default, find it gone and change
        -- nothing. Locked out until commit, it is planned again and finds the row in its month.
        -- The lock is taken only when the default holds rows with a month.
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %1$s WHERE isfinite(%2$I))', qualified_name(v_default), v_key.control_column)
           INTO v_has_rows;
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
                'SELECT DISTINCT date_trunc(''month'', %1$I::timestamptz) AS month_start FROM %2$s WHERE isfinite(%1$I) ORDER BY 1',
                v_key.control_column, qualified_name(v_default))
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
