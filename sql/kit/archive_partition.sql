-- Retention: a month past the retention is detached and moved into the archive schema. The kit
-- never drops data; dropping archived months is left to a human. Returns the new qualified name.
CREATE OR REPLACE FUNCTION archive_partition(p_parent regclass, p_partition regclass, p_archive_schema text)
RETURNS text
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_schema name;
    v_table  name;
BEGIN
    SELECT n.nspname, c.relname INTO v_schema, v_table
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = p_partition;
    -- Checked first so the message names the clash instead of failing halfway.
    IF v_schema <> p_archive_schema AND to_regclass(format('%I.%I', p_archive_schema, v_table)) IS NOT NULL THEN
        RAISE EXCEPTION 'cannot archive %: %.% already exists', qualified_name(p_partition),
                quote_ident(p_archive_schema), quote_ident(v_table)
            USING ERRCODE = 'duplicate_table';
    END IF;

    EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', qualified_name(p_parent), qualified_name(p_partition));
    IF v_schema <> p_archive_schema THEN
        IF NOT EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = p_archive_schema) THEN
            EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I', p_archive_schema);
        END IF;
        EXECUTE format('ALTER TABLE %I.%I SET SCHEMA %I', v_schema, v_table, p_archive_schema);
    END IF;
    RETURN format('%I.%I', p_archive_schema, v_table);
END;
$$;
