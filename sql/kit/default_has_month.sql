-- Whether a default partition holds rows of the month starting at p_month_start (wall time, as
-- p_local, the control column as wall time in the table's zone, computes it).
CREATE FUNCTION default_has_month(p_default regclass, p_local text, p_month_start timestamp) RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_found boolean;
BEGIN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM ONLY %s WHERE %s >= $1 AND %2$s < $1 + interval ''1 month'')', qualified_name(p_default), p_local)
       INTO v_found
      USING p_month_start;
    RETURN v_found;
END;
$$;
