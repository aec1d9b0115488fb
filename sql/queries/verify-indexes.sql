-- Every (index of the parent, attached child) pair, and whether the child has an index attached
-- to that partitioned index. A missing pair means the child lacks one of the parent's indexes
-- (for instance after CREATE INDEX ... ON ONLY parent, which leaves the parent's index invalid).
-- $1 parent schema, $2 parent table
WITH parent AS (
    SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relname = $2
)
SELECT pn.nspname::text AS index_schema,
       pi.relname::text AS index_name,
       pg_get_indexdef(pi.oid) AS definition,
       x.indisvalid AS valid,
       cn.nspname::text AS child_schema,
       cc.relname::text AS child_name,
       EXISTS (SELECT 1 FROM pg_inherits hi JOIN pg_index ci ON ci.indexrelid = hi.inhrelid
                WHERE hi.inhparent = x.indexrelid AND ci.indrelid = h.inhrelid) AS attached
  FROM pg_index x
  JOIN pg_class pi ON pi.oid = x.indexrelid
  JOIN pg_namespace pn ON pn.oid = pi.relnamespace
  JOIN pg_inherits h ON h.inhparent = x.indrelid
  JOIN pg_class cc ON cc.oid = h.inhrelid
  JOIN pg_namespace cn ON cn.oid = cc.relnamespace
 WHERE x.indrelid = (SELECT oid FROM parent)
 ORDER BY pi.relname, cc.relname
