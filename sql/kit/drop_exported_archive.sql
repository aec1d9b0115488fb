-- Drops one archived month, only when it was exported: a detached table (never an attached
-- partition) with an archive_export row whose row count still matches the table, and, when
-- p_sha256 is given, whose checksum is that one. Used by `partkit archive export
-- --drop-after-export` and by purge. Refusals are object_not_in_prerequisite_state (55000), so
-- callers can tell "not yet" from a failure. Returns the rows dropped.
CREATE OR REPLACE FUNCTION drop_exported_archive(p_table regclass, p_sha256 text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_schema  name;
    v_table   name;
    v_export  archive_export;
    v_rows    bigint;
BEGIN
    -- Taken first: no row can arrive between the count below and the drop.
    EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', qualified_name(p_table));
    SELECT n.nspname, c.relname INTO v_schema, v_table
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = p_table;
    IF EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = p_table) THEN
        RAISE EXCEPTION '% is attached to a partitioned table: only detached, archived months are dropped',
                qualified_name(p_table)
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;

    SELECT e.* INTO v_export
      FROM archive_export e
     WHERE e.archive_schema = v_schema AND e.archived_table = v_table AND e.dropped_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% is not exported yet: run partkit archive export', qualified_name(p_table)
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF p_sha256 IS NOT NULL AND v_export.sha256 <> p_sha256 THEN
        RAISE EXCEPTION 'the export recorded for % has checksum %, not %', qualified_name(p_table),
                v_export.sha256, p_sha256
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Run partkit archive export again.';
    END IF;

    EXECUTE format('SELECT count(*) FROM %s', qualified_name(p_table)) INTO v_rows;
    IF v_rows <> v_export.rows THEN
        RAISE EXCEPTION '% has % rows but % were exported to %: run partkit archive export again',
                qualified_name(p_table), v_rows, v_export.rows, v_export.file
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;

    EXECUTE format('DROP TABLE %s', qualified_name(p_table));
    UPDATE archive_export SET dropped_at = now() WHERE id = v_export.id;
    RETURN v_rows;
END;
$$;
