-- The time index of a partitioned table: for the parent and each attached child, the index whose
-- first key column is the control column (of any method: btree, brin, ...), and for each child
-- whether it has an index attached to the parent's. One row per child; a parent without children
-- gives one row with child columns NULL.
-- $1 parent schema, $2 parent table, $3 control column
WITH parent AS (
    SELECT c.oid, a.attnum
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = $3 AND NOT a.attisdropped
     WHERE n.nspname = $1 AND c.relname = $2
), parent_index AS (
    -- Valid first: an index left invalid by CREATE INDEX ... ON ONLY is reused, not duplicated.
    SELECT x.indexrelid, pi.relname::text AS name, x.indisvalid AS valid
      FROM pg_index x
      JOIN pg_class pi ON pi.oid = x.indexrelid
     WHERE x.indrelid = (SELECT oid FROM parent) AND x.indkey[0] = (SELECT attnum FROM parent)
     ORDER BY x.indisvalid DESC, pi.relname
     LIMIT 1
)
SELECT (SELECT name FROM parent_index) AS parent_index,
       (SELECT substring(pg_get_indexdef(indexrelid) FROM ' USING (.*)$') FROM parent_index) AS parent_index_method,
       (SELECT valid FROM parent_index) AS parent_index_valid,
       cn.nspname::text AS child_schema,
       cc.relname::text AS child_name,
       pg_get_expr(cc.relpartbound, cc.oid) = 'DEFAULT' AS is_default,
       -- any valid index of the child whose first key column is the control column
       EXISTS (SELECT 1 FROM pg_index ci JOIN pg_attribute ca ON ca.attrelid = ci.indrelid AND ca.attnum = ci.indkey[0]
                WHERE ci.indrelid = cc.oid AND ci.indisvalid AND ca.attname = $3) AS indexed,
       EXISTS (SELECT 1 FROM pg_inherits hi JOIN pg_index ci ON ci.indexrelid = hi.inhrelid
                WHERE hi.inhparent = (SELECT indexrelid FROM parent_index) AND ci.indrelid = cc.oid) AS attached
  FROM (SELECT 1) one
  LEFT JOIN pg_inherits h ON h.inhparent = (SELECT oid FROM parent)
  LEFT JOIN pg_class cc ON cc.oid = h.inhrelid
  LEFT JOIN pg_namespace cn ON cn.oid = cc.relnamespace
 ORDER BY cc.relname
