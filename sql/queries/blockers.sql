-- The sessions that block backend $1 (pg_blocking_pids), oldest transaction first: who they are,
-- how long their transaction (else their query) has run, and the start of their query.
SELECT a.pid, a.usename::text AS user, a.application_name, a.state,
       floor(extract(epoch FROM clock_timestamp() - coalesce(a.xact_start, a.query_start)))::int AS seconds,
       left(regexp_replace(a.query, '\s+', ' ', 'g'), 100) AS query
  FROM pg_stat_activity a
 WHERE a.pid = ANY (pg_blocking_pids($1))
 ORDER BY a.xact_start NULLS LAST, a.pid
