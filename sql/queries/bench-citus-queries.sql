-- partkit bench, citus section: the two measured queries, separated by lines "-- name: <query>".
-- {{table}} is the quoted, schema-qualified name of the local or the distributed table.
-- name: monthAggregate
SELECT role, count(*) AS messages, avg(length(content)) AS avg_length
  FROM {{table}}
 WHERE created_at >= $1::timestamptz AND created_at < $2::timestamptz
 GROUP BY role;
-- name: sessionHistory
SELECT id, role, content, created_at
  FROM {{table}}
 WHERE session_id = $1::uuid
 ORDER BY created_at DESC
 LIMIT 50;
