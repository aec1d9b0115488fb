-- One row per managed table, every value a number, for postgres_exporter's custom queries
-- (docs/monitoring/postgres_exporter.yml); `partkit status --format prometheus` prints the same
-- rows. Each column is the gauge partkit_<column>, so one set of alert rules
-- (docs/monitoring/alerts.yml) fits both. Times are Unix seconds; a value that does not exist
-- yet (no hot month, no run) is NULL. Read-only: a monitoring role needs USAGE on the kit's schema
-- and SELECT on this view, nothing else.
CREATE VIEW metrics AS
SELECT current_database()::text AS database,
       format('%I.%I', t.parent_schema, t.parent_table) AS "table",
       t.months_ahead,
       t.default_rows,
       extract(epoch FROM t.oldest_hot_month)::float8 AS oldest_hot_month_timestamp_seconds,
       extract(epoch FROM t.newest_hot_month)::float8 AS newest_hot_month_timestamp_seconds,
       t.archived_months,
       t.exported_months,
       t.export_waiting_months,
       greatest(coalesce(extract(epoch FROM now() - t.export_waiting_since), 0), 0)::float8 AS export_waiting_seconds,
       extract(epoch FROM t.last_run_finished_at)::float8 AS last_maintenance_timestamp_seconds,
       CASE WHEN t.last_run_ok THEN 1 WHEN NOT t.last_run_ok THEN 0 END AS last_maintenance_success,
       -- Since the last success, or since the table was registered when none has succeeded yet.
       extract(epoch FROM now() - coalesce(t.last_success_at, t.registered_at))::float8 AS seconds_since_maintenance_success
  FROM table_metrics() t;
