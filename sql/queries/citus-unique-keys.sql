-- The unique keys (primary key and unique constraints/indexes) of a table ($1: regclass text), with
-- their columns in key order and the statement that made them; Citus needs the distribution
-- column in every one.
SELECT ic.relname AS index_name,
       con.conname AS constraint_name,
       i.indisprimary AS is_primary,
       (SELECT array_agg(a.attname::text ORDER BY k.ord)
          FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum) AS columns
  FROM pg_index i
  JOIN pg_class ic ON ic.oid = i.indexrelid
  LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
 WHERE i.indrelid = $1::regclass AND i.indisunique
 ORDER BY i.indisprimary DESC, ic.relname
