-- Retention moved a month into the archive schema: its month and parent are written on it as its
-- comment ('partkit: month YYYY-MM of <parent>'). The name of an adopted month (any name) does not
-- say them, and archive list, archive export and the purge find archived months by this comment
-- as well as by the strategies' names.
CREATE OR REPLACE FUNCTION mark_archived_month(p_archived regclass, p_parent regclass, p_month text) RETURNS void
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
    IF p_month IS NULL THEN
        RETURN;
    END IF;
    EXECUTE format('COMMENT ON TABLE %s IS %L', qualified_name(p_archived), format('partkit: month %s of %s', p_month, qualified_name(p_parent)));
END;
$$;
