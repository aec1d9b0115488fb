-- The design's function, made safe: the table name is SQL syntax and may be schema-qualified,
-- bounds are month starts in the table's time zone, repeated calls are harmless, overlaps are
-- refused, and rows already waiting in the default partition are moved into the new month.
-- Returns the child's schema-qualified name, quoted as SQL needs it.
CREATE OR REPLACE FUNCTION create_monthly_partition(p_table_name text, p_year integer, p_month integer)
RETURNS text
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_result record;
BEGIN
    v_result := add_month_partition(resolve_table(p_table_name), p_year, p_month);
    RETURN v_result.partition_name;
END;
$$;
