-- partkit bench, citus section: rows $1..$2 of $3, in time order from $5 to $6 (timestamptz), each
-- row in one of $4 sessions (every session has rows in every month). Deterministic but for the ids.
INSERT INTO {{table}} (session_id, role, content, created_at)
SELECT md5((g % $4::bigint)::text)::uuid,
       (ARRAY['user', 'assistant', 'system'])[1 + g % 3],
       'message text number ' || g || ' ' || repeat('x', (g % 200)::int),
       $5::timestamptz + ($6::timestamptz - $5::timestamptz) * ((g - 1)::float8 / $3::bigint)
  FROM generate_series($1::bigint, $2::bigint) AS g;
