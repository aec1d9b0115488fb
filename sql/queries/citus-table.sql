-- How Citus holds one table and each of its attached partitions ($1: the parent as regclass text).
-- One row per relation, the parent first: its distribution column (NULL when it is a local table),
-- colocation group, shard count, and the worker groups holding a placement next to the active
-- worker groups (a month's shards must be on every active worker).
WITH rels AS (
  SELECT $1::regclass AS relid, 0 AS ord, NULL::text AS bound
  UNION ALL
  SELECT i.inhrelid::regclass, 1, pg_get_expr(c.relpartbound, c.oid)
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
   WHERE i.inhparent = $1::regclass
)
SELECT r.relid::text AS relation,
       r.ord = 0 AS is_parent,
       r.bound,
       p.partmethod AS method,
       CASE WHEN p.partmethod = 'h' THEN column_to_column_name(p.logicalrelid, p.partkey) END AS column_name,
       p.colocationid AS colocation_id,
       (SELECT count(*)::int FROM pg_dist_shard s WHERE s.logicalrelid = r.relid) AS shards,
       (SELECT coalesce(array_agg(DISTINCT pl.groupid ORDER BY pl.groupid), '{}')
          FROM pg_dist_shard s JOIN pg_dist_placement pl ON pl.shardid = s.shardid
         WHERE s.logicalrelid = r.relid) AS groups,
       (SELECT coalesce(array_agg(n.groupid ORDER BY n.groupid), '{}') FROM pg_dist_node n
         WHERE n.isactive AND n.noderole = 'primary' AND n.groupid <> 0 AND n.shouldhaveshards) AS active_groups
  FROM rels r
  LEFT JOIN pg_dist_partition p ON p.logicalrelid = r.relid
 ORDER BY r.ord, r.bound
