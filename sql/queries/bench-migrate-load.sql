-- partkit bench, migrate section: rows $1..$2 of the table to migrate (see bench-migrate-table.sql).
INSERT INTO {{table}} (session_id, role, content, created_at)
SELECT md5((g % 5000)::text)::uuid,
       (ARRAY['user', 'assistant'])[1 + g % 2],
       'message text number ' || g || ' ' || repeat('x', (g % 80)::int),
       now() - random() * interval '900 days'
  FROM generate_series($1::bigint, $2::bigint) AS g;
