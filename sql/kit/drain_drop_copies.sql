-- Drops what a drain made in the kit's schema, if it is there: the partitioned copy (with the
-- partitions still in it), the capture table and the capture's trigger function.
CREATE FUNCTION drain_drop_copies(p_staging text) RETURNS void
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
    IF to_regclass(format('%I.%I', current_schema(), p_staging)) IS NOT NULL THEN
        EXECUTE format('DROP TABLE %I.%I', current_schema(), p_staging);
    END IF;
    IF to_regclass(format('%I.%I', current_schema(), p_staging || '_capture')) IS NOT NULL THEN
        EXECUTE format('DROP TABLE %I.%I', current_schema(), p_staging || '_capture');
    END IF;
    IF to_regprocedure(format('%I.%I()', current_schema(), p_staging || '_capture')) IS NOT NULL THEN
        EXECUTE format('DROP FUNCTION %I.%I()', current_schema(), p_staging || '_capture');
    END IF;
END;
$$;
