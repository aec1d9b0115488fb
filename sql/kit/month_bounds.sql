-- One month of a table as partition bounds: the literals that go into FOR VALUES (timestamptz with
-- an explicit UTC offset, so neither TimeZone nor DateStyle changes their meaning) and the same
-- bounds in partition_bounds' comparable form. p_month_start is the month's first midnight as wall
-- time in p_zone; timestamp and date keys use plain month starts.
CREATE FUNCTION month_bounds(
    p_control_type text,
    p_zone text,
    p_month_start timestamp,
    OUT lower_literal text,
    OUT upper_literal text,
    OUT lower_bound timestamp,
    OUT upper_bound timestamp
)
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
BEGIN
    IF p_control_type = 'timestamptz' THEN
        lower_bound := (p_month_start AT TIME ZONE p_zone) AT TIME ZONE 'UTC';
        upper_bound := ((p_month_start + interval '1 month') AT TIME ZONE p_zone) AT TIME ZONE 'UTC';
        lower_literal := to_char(lower_bound, 'YYYY-MM-DD HH24:MI:SS') || '+00';
        upper_literal := to_char(upper_bound, 'YYYY-MM-DD HH24:MI:SS') || '+00';
    ELSE
        lower_bound := p_month_start;
        upper_bound := p_month_start + interval '1 month';
        lower_literal := to_char(lower_bound, 'YYYY-MM-DD');
        upper_literal := to_char(upper_bound, 'YYYY-MM-DD');
    END IF;
END;
$$;
