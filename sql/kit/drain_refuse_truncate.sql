-- Refuses TRUNCATE of a default partition while it is drained: a truncate removes rows without a
-- trace in the capture, and the copies would bring them back at the swap.
CREATE FUNCTION drain_refuse_truncate() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
    RAISE EXCEPTION 'cannot truncate %.% while partkit drains it', quote_ident(TG_TABLE_SCHEMA), quote_ident(TG_TABLE_NAME)
        USING ERRCODE = 'object_in_use', HINT = 'Wait for the running maintenance to finish the drain.';
END;
$$;
