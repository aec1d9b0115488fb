-- How many rows with a month wait in a default partition, counted up to p_up_to (enough to tell
-- whether there are more than some limit without reading all of them).
CREATE FUNCTION default_rows_waiting(p_default regclass, p_up_to bigint) RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_rows bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM ONLY %s WHERE isfinite(%I) LIMIT $1) r',
                   qualified_name(p_default), (partition_key((SELECT i.inhparent FROM pg_inherits i WHERE i.inhrelid = p_default))).control_column)
       INTO v_rows
      USING p_up_to;
    RETURN v_rows;
END;
$$;
