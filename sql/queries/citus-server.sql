-- Citus on this server: its version, whether this node is the coordinator, and how many workers
-- are active. Run only when the citus extension exists in this database.
SELECT e.extversion AS version,
       citus_is_coordinator() AS coordinator,
       (SELECT count(*)::int FROM pg_dist_node n
         WHERE n.isactive AND n.noderole = 'primary' AND n.groupid <> 0) AS active_workers
  FROM pg_extension e
 WHERE e.extname = 'citus'
