-- What a monitoring system watches, one row per managed table (the view `metrics` turns it into
-- numbers). SECURITY DEFINER: a monitoring role that may only SELECT the view still gets the rows
-- in each default partition counted; the count is all it learns of them.
CREATE FUNCTION table_metrics(p_default_row_limit bigint DEFAULT 1000000)
RETURNS TABLE (
    parent_schema         text,
    parent_table          text,
    months_ahead          integer,
    default_rows          bigint,
    oldest_hot_month      timestamptz,
    newest_hot_month      timestamptz,
    archived_months       integer,
    exported_months       integer,
    export_waiting_months integer,
    export_waiting_since  timestamptz,
    last_run_finished_at  timestamptz,
    last_run_ok           boolean,
    last_success_at       timestamptz,
    registered_at         timestamptz
)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
#variable_conflict use_column
DECLARE
    v_config  managed_table;
    v_parent  regclass;
    v_current timestamp;
    v_months  timestamp[];
    v_default regclass;
BEGIN
    FOR v_config IN SELECT m.* FROM managed_table m ORDER BY m.parent_schema, m.parent_table LOOP
        parent_schema := v_config.parent_schema;
        parent_table := v_config.parent_table;
        registered_at := v_config.registered_at;
        v_parent := to_regclass(format('%I.%I', v_config.parent_schema, v_config.parent_table));

        -- The starts of the attached children that are exactly one month, as wall-clock time in
        -- the table's zone (partition_bounds gives timestamptz bounds as UTC wall-clock time).
        v_months := ARRAY(
            SELECT l.lower_local
              FROM pg_inherits i
             CROSS JOIN LATERAL partition_bounds(i.inhrelid::regclass) b
             CROSS JOIN LATERAL (
                 SELECT CASE WHEN v_config.control_type = 'timestamptz'
                             THEN (b.lower_bound AT TIME ZONE 'UTC') AT TIME ZONE v_config.time_zone
                             ELSE b.lower_bound END AS lower_local,
                        CASE WHEN v_config.control_type = 'timestamptz'
                             THEN (b.upper_bound AT TIME ZONE 'UTC') AT TIME ZONE v_config.time_zone
                             ELSE b.upper_bound END AS upper_local) l
             WHERE i.inhparent = v_parent AND NOT b.is_default
               AND l.lower_local = date_trunc('month', l.lower_local)
               AND l.upper_local = l.lower_local + interval '1 month'
             ORDER BY 1);
        v_current := date_trunc('month', now() AT TIME ZONE v_config.time_zone);
        -- The months after the current one that exist, up to the first gap.
        months_ahead := (SELECT min(n) - 1 FROM generate_series(1, 1201) n
                          WHERE NOT (v_current + make_interval(months => n) = ANY (v_months)));
        oldest_hot_month := v_months[1] AT TIME ZONE v_config.time_zone;
        newest_hot_month := v_months[cardinality(v_months)] AT TIME ZONE v_config.time_zone;

        v_default := (SELECT i.inhrelid::regclass
                        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                       WHERE i.inhparent = v_parent AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT');
        default_rows := 0;
        IF v_default IS NOT NULL THEN
            -- Counting stops at the limit, so a huge default stays cheap to watch.
            EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM ONLY %s LIMIT $1) r', v_default)
               INTO default_rows USING p_default_row_limit;
        END IF;

        -- Archived months: tables in the archive schema named as months of the parent (in any
        -- strategy's naming). A month waits for export while no export of its table is recorded;
        -- it has waited since retention made it due (the month's end plus the retention).
        SELECT count(DISTINCT a.month),
               count(DISTINCT a.month) FILTER (WHERE e.id IS NULL),
               min(a.due) FILTER (WHERE e.id IS NULL)
          INTO archived_months, export_waiting_months, export_waiting_since
          FROM (SELECT c.relname AS archived_table, s.month,
                       ((s.month || '-01')::timestamp + interval '1 month' + coalesce(v_config.retention, interval '0'))
                           AT TIME ZONE v_config.time_zone AS due
                  FROM pg_class c
                  JOIN pg_namespace n ON n.oid = c.relnamespace
                 CROSS JOIN LATERAL (SELECT substr(c.relname, length(v_config.parent_table) + 2) AS suffix) x
                 CROSS JOIN LATERAL (SELECT CASE
                         WHEN x.suffix ~ '^p[0-9]{4}_[0-9]{2}(_late)?$' THEN substr(x.suffix, 2, 4) || '-' || substr(x.suffix, 7, 2)
                         WHEN x.suffix ~ '^p[0-9]{8}(_late)?$' THEN substr(x.suffix, 2, 4) || '-' || substr(x.suffix, 6, 2)
                         WHEN x.suffix ~ '^y[0-9]{4}m[0-9]{2}(_late)?$' THEN substr(x.suffix, 2, 4) || '-' || substr(x.suffix, 7, 2)
                       END AS month) s
                 WHERE n.nspname = v_config.archive_schema
                   AND c.relkind IN ('r', 'p')
                   AND left(c.relname, length(v_config.parent_table) + 1) = v_config.parent_table || '_'
                   AND s.month IS NOT NULL) a
          LEFT JOIN archive_export e
                 ON e.archive_schema = v_config.archive_schema AND e.archived_table = a.archived_table;
        exported_months := (SELECT count(DISTINCT e.month) FROM archive_export e
                             WHERE e.parent_schema = v_config.parent_schema AND e.parent_table = v_config.parent_table);

        -- The runs that covered the table: those since it was registered, but for runs of one
        -- other table. A run's outcome for the table is whether it recorded a failure for it.
        SELECT r.finished_at, NOT r.failed
          INTO last_run_finished_at, last_run_ok
          FROM (SELECT r.id, r.finished_at,
                       EXISTS (SELECT 1 FROM maintenance_event f
                                WHERE f.run_id = r.id AND f.action = 'failed'
                                  AND f.parent_schema = v_config.parent_schema AND f.parent_table = v_config.parent_table) AS failed
                  FROM maintenance_run r
                 WHERE r.finished_at IS NOT NULL AND r.started_at >= v_config.registered_at
                   AND (r.parent_table IS NULL OR (r.parent_schema = v_config.parent_schema AND r.parent_table = v_config.parent_table))
                 ORDER BY r.finished_at DESC, r.id DESC
                 LIMIT 1) r;
        last_success_at := (SELECT max(r.finished_at) FROM maintenance_run r
                             WHERE r.finished_at IS NOT NULL AND r.started_at >= v_config.registered_at
                               AND (r.parent_table IS NULL OR (r.parent_schema = v_config.parent_schema AND r.parent_table = v_config.parent_table))
                               AND NOT EXISTS (SELECT 1 FROM maintenance_event f
                                                WHERE f.run_id = r.id AND f.action = 'failed'
                                                  AND f.parent_schema = v_config.parent_schema AND f.parent_table = v_config.parent_table));
        RETURN NEXT;
    END LOOP;
END;
$$;
