-- One relation for `partkit migrate`: kind, owner, comment, size estimate and the control column.
-- $1 schema, $2 relation, $3 control column
SELECT c.oid::bigint AS oid,
       c.relkind::text AS relkind,
       pg_get_userbyid(c.relowner)::text AS owner,
       obj_description(c.oid, 'pg_class') AS comment,
       greatest(c.reltuples, 0)::bigint AS estimated_rows,
       quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS quoted,
       quote_ident(c.relname) AS quoted_name,
       ctl.attname IS NOT NULL AS control_exists,
       format_type(ctl.atttypid, ctl.atttypmod) AS control_type,
       coalesce(ctl.attnotnull, false) AS control_not_null,
       pt.partstrat::text AS partition_strategy,
       (SELECT array_agg(a.attname::text ORDER BY k.ord)
          FROM unnest(pt.partattrs::int2[]) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum) AS partition_key,
       EXISTS (SELECT 1 FROM pg_index i
                WHERE i.indrelid = c.oid AND i.indkey[0] = ctl.attnum AND i.indpred IS NULL) AS control_indexed,
       c.relrowsecurity AS row_security,
       (SELECT array_agg(t.tgname::text ORDER BY t.tgname) FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal) AS triggers,
       (SELECT array_agg(p.pubname::text ORDER BY p.pubname) FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid WHERE pr.prrelid = c.oid) AS publications
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_partitioned_table pt ON pt.partrelid = c.oid
  LEFT JOIN pg_attribute ctl ON ctl.attrelid = c.oid AND ctl.attname = $3 AND ctl.attnum > 0 AND NOT ctl.attisdropped
 WHERE n.nspname = $1 AND c.relname = $2
