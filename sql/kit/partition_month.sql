-- The month (YYYY-MM) an attached partition holds, as the session's TimeZone names it (maintenance
-- runs each table in its own zone): NULL for the default partition and for a range that does not
-- start on a month start. Read before retention detaches the partition, when the bounds still exist.
CREATE OR REPLACE FUNCTION partition_month(p_partition regclass) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_bounds record;
    v_start  timestamp;  -- the lower bound as wall time in the session's zone
BEGIN
    v_bounds := partition_bounds(p_partition);
    IF v_bounds.is_default OR NOT isfinite(v_bounds.lower_bound) THEN
        RETURN NULL;
    END IF;
    v_start := CASE WHEN (partition_key((SELECT i.inhparent FROM pg_inherits i WHERE i.inhrelid = p_partition))).control_type = 'timestamptz'
                    THEN (v_bounds.lower_bound AT TIME ZONE 'UTC')::timestamp
                    ELSE v_bounds.lower_bound END;
    IF v_start <> date_trunc('month', v_start) THEN
        RETURN NULL;
    END IF;
    RETURN to_char(v_start, 'YYYY-MM');
END;
$$;
