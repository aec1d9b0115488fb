-- partkit bench, migrate section: the writer's three statements, separated by lines "-- name: <op>".
-- name: insert
INSERT INTO {{table}} (session_id, role, content, created_at)
VALUES (md5(random()::text)::uuid, 'user', 'written during the migration', now() - random() * interval '900 days')
RETURNING id::text;
-- name: update
UPDATE {{table}}
   SET content = content || ' (edited)',
       created_at = CASE WHEN $2::boolean THEN now() - random() * interval '900 days' ELSE created_at END
 WHERE id = $1::uuid;
-- name: delete
DELETE FROM {{table}} WHERE id = $1::uuid;
-- name: sample
SELECT id::text FROM {{table}} TABLESAMPLE SYSTEM (1) LIMIT 5000;
