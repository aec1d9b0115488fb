-- partkit bench: heap bytes of a table (a plain one, or every leaf of a partitioned one), and the bytes of each
-- index, summed under the parent index's name over the months. $1: the table (regclass text).
WITH leaves AS (
  SELECT c.oid FROM pg_class c WHERE c.oid = $1::regclass AND c.relkind = 'r'
  UNION ALL SELECT relid FROM pg_partition_tree($1::regclass) WHERE isleaf
)
SELECT (SELECT sum(pg_relation_size(oid)) FROM leaves)::text AS heap,
       -- the parent's index name, so that each month's copy adds up under one name
       coalesce(pi.relname, ci.relname)::text AS index_name, sum(pg_relation_size(x.indexrelid))::text AS index_bytes
  FROM leaves l
  LEFT JOIN pg_index x ON x.indrelid = l.oid
  LEFT JOIN pg_class ci ON ci.oid = x.indexrelid
  LEFT JOIN pg_inherits h ON h.inhrelid = x.indexrelid
  LEFT JOIN pg_class pi ON pi.oid = h.inhparent
 GROUP BY 2
