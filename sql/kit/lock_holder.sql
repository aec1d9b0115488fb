-- Who holds a lock on one of p_relations (the oldest transaction first), for a message that names
-- the session a DDL waited for in vain: pid, application_name, how long its transaction has run,
-- and the start of its query. NULL when no other session holds one.
CREATE FUNCTION lock_holder(p_relations regclass[]) RETURNS text
LANGUAGE sql STABLE
SET search_path FROM CURRENT
AS $$
    SELECT format('pid %s (%s), in a transaction for %s: %s', a.pid,
                  coalesce(nullif(a.application_name, ''), 'no application_name'),
                  date_trunc('second', clock_timestamp() - a.xact_start)::text,
                  left(regexp_replace(a.query, '\s+', ' ', 'g'), 80))
      FROM pg_locks l
      JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'relation' AND l.granted AND l.relation = ANY (p_relations::oid[]) AND l.pid <> pg_backend_pid()
     ORDER BY a.xact_start NULLS LAST
     LIMIT 1
$$;
