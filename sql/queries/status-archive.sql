-- Tables in the archive schema that were months of one parent: retention detaches a month and
-- moves it there under its own name, so the name is what links it to its parent. Late rows of a
-- month that was exported and dropped are kept in `<month name>_late` (kit migration 18).
-- $1 archive schema, $2 parent table name
SELECT n.nspname::text AS schema,
       c.relname::text AS name,
       CASE
         WHEN s.suffix ~ '^p[0-9]{4}_[0-9]{2}(_late)?$' THEN substr(s.suffix, 2, 4) || '-' || substr(s.suffix, 7, 2)
         WHEN s.suffix ~ '^p[0-9]{8}(_late)?$' THEN substr(s.suffix, 2, 4) || '-' || substr(s.suffix, 6, 2)
         WHEN s.suffix ~ '^y[0-9]{4}m[0-9]{2}(_late)?$' THEN substr(s.suffix, 2, 4) || '-' || substr(s.suffix, 7, 2)
       END AS month,
       greatest(c.reltuples, 0)::bigint AS estimated_rows,
       pg_total_relation_size(c.oid) AS bytes
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  CROSS JOIN LATERAL (SELECT substr(c.relname, length($2::text) + 2) AS suffix) s
 WHERE n.nspname = $1
   AND c.relkind IN ('r', 'p')
   AND left(c.relname, length($2::text) + 1) = $2::text || '_'
   AND s.suffix ~ '^(p[0-9]{4}_[0-9]{2}|p[0-9]{8}|y[0-9]{4}m[0-9]{2})(_late)?$'
 ORDER BY month, c.relname
