-- Whether a table is distributed by Citus (false where Citus is not installed). Its default
-- partition is not drained in steps: the drain's copies would be local tables attached to a
-- distributed parent, and Citus refuses DDL after a parallel operation in one transaction. Default
-- rows of a distributed table move in one transaction, as before (docs/scale-out.md).
CREATE FUNCTION is_distributed(p_table regclass) RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_distributed boolean := false;
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1)' INTO v_distributed USING p_table;
    END IF;
    RETURN v_distributed;
END;
$$;
