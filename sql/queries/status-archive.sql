-- Tables in the archive schema that were months of one parent. Retention writes the month and the
-- parent on each table it moves there (its comment, 'partkit: month YYYY-MM of <parent>': the only
-- link for an adopted month, whose name can be anything); months archived before that are known by
-- the strategies' names, `<parent>_<suffix>`. Late rows of a month that was exported and dropped are
-- kept in `<month name>_late`.
-- $1 archive schema, $2 parent table name, $3 parent schema
SELECT n.nspname::text AS schema,
       c.relname::text AS name,
       CASE
         WHEN s.marked THEN substr(s.note, 16, 7)
         WHEN s.suffix ~ '^p[0-9]{4}_[0-9]{2}(_late)?$' THEN substr(s.suffix, 2, 4) || '-' || substr(s.suffix, 7, 2)
         WHEN s.suffix ~ '^p[0-9]{8}(_late)?$' THEN substr(s.suffix, 2, 4) || '-' || substr(s.suffix, 6, 2)
         WHEN s.suffix ~ '^y[0-9]{4}m[0-9]{2}(_late)?$' THEN substr(s.suffix, 2, 4) || '-' || substr(s.suffix, 7, 2)
       END AS month,
       greatest(c.reltuples, 0)::bigint AS estimated_rows,
       pg_total_relation_size(c.oid) AS bytes
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  CROSS JOIN LATERAL (SELECT obj_description(c.oid, 'pg_class') AS note) d
  CROSS JOIN LATERAL (SELECT substr(c.relname, length($2::text) + 2) AS suffix, d.note,
                             d.note ~ '^partkit: month [0-9]{4}-[0-9]{2} of ' AND substr(d.note, 23) = format(' of %I.%I', $3::text, $2::text) AS marked) s
 WHERE n.nspname = $1
   AND c.relkind IN ('r', 'p')
   AND NOT c.relispartition
   AND (s.marked
        OR (left(c.relname, length($2::text) + 1) = $2::text || '_'
            AND s.suffix ~ '^(p[0-9]{4}_[0-9]{2}|p[0-9]{8}|y[0-9]{4}m[0-9]{2})(_late)?$'))
 ORDER BY month, c.relname
