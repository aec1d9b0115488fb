-- Whether an error is a lock not taken in time (55P03) or a deadlock (40P01), the errors worth
-- trying again. pg_partman catches the errors of what it runs and raises them again as P0001 with
-- the same message, so inside pg_partman a lock timeout is known only by its message.
CREATE FUNCTION lock_failure(p_state text, p_message text) RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path FROM CURRENT
AS $$
    SELECT p_state IN ('55P03', '40P01')
        OR (p_state = 'P0001' AND (p_message LIKE '%canceling statement due to lock timeout%' OR p_message LIKE '%deadlock detected%'))
$$;
