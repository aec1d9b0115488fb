-- The tables one maintenance run covers: every managed table, or only p_table_name (SQL syntax,
-- see resolve_table), which must be managed.
CREATE FUNCTION maintenance_tables(p_table_name text) RETURNS SETOF managed_table
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_only regclass;
BEGIN
    IF p_table_name IS NOT NULL THEN
        v_only := resolve_table(p_table_name);
        IF NOT EXISTS (SELECT 1 FROM managed_table m
                        WHERE to_regclass(format('%I.%I', m.parent_schema, m.parent_table)) = v_only) THEN
            RAISE EXCEPTION '% is not a managed table', qualified_name(v_only)
                USING ERRCODE = 'undefined_object', HINT = 'Run partkit provision for it first.';
        END IF;
    END IF;
    RETURN QUERY
        SELECT m.* FROM managed_table m
         WHERE v_only IS NULL OR to_regclass(format('%I.%I', m.parent_schema, m.parent_table)) = v_only
         ORDER BY m.parent_schema, m.parent_table;
END;
$$;
