-- Indexes of one table: what `partkit migrate prep` recreates on the partitioned copy.
-- The definition is split after "... ON <table> USING " by the caller, which needs the exact
-- prefix pg_get_indexdef prints (quote_ident rules). $1 table oid
SELECT ic.relname::text AS name,
       i.indisprimary AS is_primary,
       i.indisunique AS is_unique,
       con.contype::text AS constraint_type,
       con.conname::text AS constraint_name,
       pg_get_indexdef(i.indexrelid) AS definition,
       'CREATE ' || CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END || 'INDEX ' || quote_ident(ic.relname) || ' ON ' AS prefix,
       (SELECT array_agg(CASE WHEN k.attnum = 0 THEN NULL ELSE quote_ident(a.attname) END ORDER BY k.ord)
          FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
          LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
         WHERE k.ord <= i.indnkeyatts) AS key_columns,
       (SELECT array_agg(a.attname::text ORDER BY k.ord)
          FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
         WHERE k.ord <= i.indnkeyatts) AS key_names,
       i.indexprs IS NOT NULL AS has_expressions,
       i.indpred IS NOT NULL AS is_partial
  FROM pg_index i
  JOIN pg_class ic ON ic.oid = i.indexrelid
  LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
 WHERE i.indrelid = $1::oid
 ORDER BY i.indisprimary DESC, ic.relname
