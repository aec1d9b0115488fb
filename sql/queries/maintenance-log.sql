-- The last runs of the kit's run_maintenance, newest first, with the tables each one covered:
-- every table registered when it started (a run of one table covers only that one), and any
-- table it wrote an event for. $1 the number of runs, $2/$3 only runs covering this table (NULL: all).
-- The kit schema is put in by the caller ({{kit}}); a run's scope columns are read through
-- to_jsonb, so a kit installed before they existed reads every run as covering all tables.
WITH runs AS (
    SELECT r.id, r.started_at, r.finished_at, r.ok, r.source, r.detail,
           to_jsonb(r) ->> 'parent_schema' AS only_schema,
           to_jsonb(r) ->> 'parent_table' AS only_table
      FROM {{kit}}.maintenance_run r
),
covered AS (
    SELECT r.id AS run_id, m.parent_schema, m.parent_table
      FROM runs r
      JOIN {{kit}}.managed_table m
        ON m.registered_at <= r.started_at
       AND (r.only_table IS NULL OR (m.parent_schema = r.only_schema AND m.parent_table = r.only_table))
    UNION
    SELECT e.run_id, e.parent_schema, e.parent_table FROM {{kit}}.maintenance_event e
),
chosen AS (
    SELECT r.*
      FROM runs r
     WHERE $2::text IS NULL
        OR EXISTS (SELECT 1 FROM covered c WHERE c.run_id = r.id AND c.parent_schema = $2 AND c.parent_table = $3)
     ORDER BY r.started_at DESC, r.id DESC
     LIMIT $1
)
SELECT r.id::text AS run_id, r.started_at, r.finished_at, r.ok, r.source, r.detail,
       r.only_schema, r.only_table,
       c.parent_schema, c.parent_table,
       coalesce((SELECT jsonb_agg(jsonb_build_object('action', e.action, 'partition', e.partition_name, 'detail', e.detail,
                                                     'rows', e.rows, 'at', e.at) ORDER BY e.id)
                   FROM {{kit}}.maintenance_event e
                  WHERE e.run_id = r.id AND e.parent_schema = c.parent_schema AND e.parent_table = c.parent_table),
                '[]'::jsonb) AS events
  FROM chosen r
  LEFT JOIN covered c
         ON c.run_id = r.id AND ($2::text IS NULL OR (c.parent_schema = $2 AND c.parent_table = $3))
 ORDER BY r.started_at DESC, r.id DESC, c.parent_schema COLLATE "C", c.parent_table COLLATE "C"
