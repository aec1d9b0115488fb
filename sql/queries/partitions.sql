-- Attached partitions of one parent, with bounds read as wall-clock time in the table's zone.
-- $1 parent schema, $2 parent table, $3 time zone, $4 control column type ('timestamptz', 'timestamp' or 'date')
SELECT c.relname::text AS name,
       n.nspname::text AS schema,
       e.expr = 'DEFAULT' AS is_default,
       to_char(CASE WHEN $4 = 'timestamptz' THEN r.m[1]::timestamptz AT TIME ZONE $3 ELSE r.m[1]::timestamp END, 'YYYY-MM-DD HH24:MI:SS') AS lower_local,
       to_char(CASE WHEN $4 = 'timestamptz' THEN r.m[2]::timestamptz AT TIME ZONE $3 ELSE r.m[2]::timestamp END, 'YYYY-MM-DD HH24:MI:SS') AS upper_local,
       e.expr AS bound,
       greatest(c.reltuples, 0)::bigint AS estimated_rows,
       -- Sizes from the catalog's page counts (as of the last VACUUM/ANALYZE): reading them takes no
       -- lock, so a busy or locked table never stalls an inspection.
       (SELECT coalesce(sum(x.relpages), 0)::bigint * current_setting('block_size')::bigint
          FROM pg_class x
         WHERE x.oid = c.oid OR x.oid = c.reltoastrelid
            OR x.oid IN (SELECT ix.indexrelid FROM pg_index ix WHERE ix.indrelid = c.oid)) AS bytes
  FROM pg_inherits i
  JOIN pg_class c ON c.oid = i.inhrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  CROSS JOIN LATERAL (SELECT pg_get_expr(c.relpartbound, c.oid) AS expr) e
  CROSS JOIN LATERAL (SELECT regexp_match(e.expr, '^FOR VALUES FROM \(''([^'']*)''\) TO \(''([^'']*)''\)$') AS m) r
 WHERE i.inhparent = (SELECT p.oid FROM pg_class p JOIN pg_namespace pn ON pn.oid = p.relnamespace
                       WHERE pn.nspname = $1 AND p.relname = $2)
 ORDER BY e.expr = 'DEFAULT', lower_local, c.relname
