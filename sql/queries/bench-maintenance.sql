-- partkit bench, maintenance section: statements separated by lines "-- name: <name>".
-- name: load
-- Rows $1..$2 of $3, spread over the three months before the current one: no partition holds those
-- months (provision starts at the current one), so all of them wait in the default partition.
INSERT INTO {{table}} (session_id, role, content, created_at)
SELECT md5((g % 5000)::text)::uuid,
       (ARRAY['user', 'assistant'])[1 + g % 2],
       'message text number ' || g || ' ' || repeat('x', (g % 80)::int),
       date_trunc('month', now()) - interval '3 months'
         + (date_trunc('month', now()) - (date_trunc('month', now()) - interval '3 months')) * (g::double precision / ($3::double precision + 1))
  FROM generate_series($1::bigint, $2::bigint) AS g;
-- name: write
-- The application's writer: one current row.
INSERT INTO {{table}} (session_id, role, content, created_at)
VALUES (md5(random()::text)::uuid, 'user', 'written during maintenance', now());
-- name: read
-- The application's reader: the newest rows of a session's last hour.
SELECT count(*) FROM {{table}} WHERE created_at > now() - interval '1 minute';
-- name: waiting
-- Rows with a month still in the default partition ({{table}} is the default partition).
SELECT count(*)::bigint AS n FROM ONLY {{table}} WHERE isfinite(created_at);
-- name: anchor
-- pg_partman's own way to empty a default: month by month, each under a lock (named arguments:
-- 4.7 and 5.x order them differently). {{partman}} is pg_partman's schema.
CALL {{partman}}.partition_data_proc(p_parent_table := $1, p_wait := 0, p_quiet := true);
