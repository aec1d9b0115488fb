-- partkit bench: deterministic rows of Semibot's four tables, $1..$2 of a data set whose row g has
-- created_at = $3 + (g - 0.5) * $4 seconds ($4 < 0: rows counted back from $3, as a history grows).
-- Every id is a UUIDv7 (RFC 9562) whose 48-bit time is the row's created_at in milliseconds, the rest from
-- md5 (version 7, variant 10): the ids partkit's tables derive from created_at, the same in every layout.
-- {{table}} is the table, quoted.

-- name: messages
INSERT INTO {{table}} (id, session_id, role, content, created_at)
SELECT encode(set_byte(set_byte(overlay(r.h PLACING substring(int8send(floor(extract(epoch FROM r.ts) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
                                6, (get_byte(r.h, 6) & 15) | 112), 8, (get_byte(r.h, 8) & 63) | 128), 'hex')::uuid,
       md5('bench-session-' || (g % 5000))::uuid,
       (ARRAY['user', 'assistant', 'system'])[1 + g % 3],
       left(repeat(md5(g::text), 6), (20 + (g * 7919) % 160)::int),
       r.ts
  FROM generate_series($1::bigint, $2::bigint) AS g
 CROSS JOIN LATERAL (SELECT $3::timestamptz + make_interval(secs => (g - 0.5) * $4::float8) AS ts, decode(md5('bench-id-' || g), 'hex') AS h) r;

-- name: execution_logs
INSERT INTO {{table}} (id, execution_id, agent_id, level, message, metadata, created_at)
SELECT encode(set_byte(set_byte(overlay(r.h PLACING substring(int8send(floor(extract(epoch FROM r.ts) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
                                6, (get_byte(r.h, 6) & 15) | 112), 8, (get_byte(r.h, 8) & 63) | 128), 'hex')::uuid,
       -- 40 consecutive lines per execution, so an execution's logs span minutes, as a run's do
       md5('bench-execution-' || (g / 40))::uuid,
       md5('bench-agent-' || ((g / 40) % 300))::uuid,
       (ARRAY['info', 'info', 'info', 'debug', 'warn', 'error'])[1 + g % 6],
       left(repeat(md5(g::text), 4), (30 + (g * 7919) % 90)::int),
       '{}'::jsonb,
       r.ts
  FROM generate_series($1::bigint, $2::bigint) AS g
 CROSS JOIN LATERAL (SELECT $3::timestamptz + make_interval(secs => (g - 0.5) * $4::float8) AS ts, decode(md5('bench-execution-log-' || g), 'hex') AS h) r;

-- name: api_key_logs
INSERT INTO {{table}} (id, api_key_id, endpoint, method, status_code, latency_ms, created_at)
SELECT encode(set_byte(set_byte(overlay(r.h PLACING substring(int8send(floor(extract(epoch FROM r.ts) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
                                6, (get_byte(r.h, 6) & 15) | 112), 8, (get_byte(r.h, 8) & 63) | 128), 'hex')::uuid,
       md5('bench-key-' || (g % 500))::uuid,
       (ARRAY['/v1/chat', '/v1/agents/run', '/v1/sessions', '/v1/usage'])[1 + g % 4],
       (ARRAY['POST', 'POST', 'GET'])[1 + g % 3],
       (ARRAY[200, 200, 200, 200, 200, 201, 400, 429, 500])[1 + g % 9]::smallint,
       (20 + (g * 7919) % 900)::int,
       r.ts
  FROM generate_series($1::bigint, $2::bigint) AS g
 CROSS JOIN LATERAL (SELECT $3::timestamptz + make_interval(secs => (g - 0.5) * $4::float8) AS ts, decode(md5('bench-api-log-' || g), 'hex') AS h) r;

-- name: usage_records
INSERT INTO {{table}} (id, organization_id, user_id, resource_type, quantity, cost_usd, metadata, created_at)
SELECT encode(set_byte(set_byte(overlay(r.h PLACING substring(int8send(floor(extract(epoch FROM r.ts) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
                                6, (get_byte(r.h, 6) & 15) | 112), 8, (get_byte(r.h, 8) & 63) | 128), 'hex')::uuid,
       md5('bench-org-' || (g % 200))::uuid,
       md5('bench-user-' || (g % 4000))::uuid,
       (ARRAY['llm_tokens', 'agent_runs', 'storage_bytes'])[1 + g % 3],
       (1 + (g * 7919) % 5000)::bigint,
       ((1 + (g * 7919) % 5000) * 0.000002)::numeric(14, 6),
       '{}'::jsonb,
       r.ts
  FROM generate_series($1::bigint, $2::bigint) AS g
 CROSS JOIN LATERAL (SELECT $3::timestamptz + make_interval(secs => (g - 0.5) * $4::float8) AS ts, decode(md5('bench-usage-' || g), 'hex') AS h) r;

-- name: message-ids
-- The id and created_at of messages rows $1 (an array of g), as the messages statement makes them.
SELECT g, encode(set_byte(set_byte(overlay(r.h PLACING substring(int8send(floor(extract(epoch FROM r.ts) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
                                   6, (get_byte(r.h, 6) & 15) | 112), 8, (get_byte(r.h, 8) & 63) | 128), 'hex')::uuid AS id,
       r.ts AS created_at
  FROM unnest($1::bigint[]) AS g
 CROSS JOIN LATERAL (SELECT $2::timestamptz + make_interval(secs => (g - 0.5) * $3::float8) AS ts, decode(md5('bench-id-' || g), 'hex') AS h) r
 ORDER BY g;

-- name: messages-without-id
-- The messages statement's rows with id left to the table (its default or its trigger), as an application inserts.
INSERT INTO {{table}} (session_id, role, content, created_at)
SELECT md5('bench-session-' || (g % 5000))::uuid,
       (ARRAY['user', 'assistant', 'system'])[1 + g % 3],
       left(repeat(md5(g::text), 6), (20 + (g * 7919) % 160)::int),
       $3::timestamptz + make_interval(secs => (g - 0.5) * $4::float8)
  FROM generate_series($1::bigint, $2::bigint) AS g;
