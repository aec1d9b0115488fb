-- Rows outside every month land in <parent>_default instead of failing the application's insert;
-- run_maintenance later moves them into their months. Returns the default partition's
-- schema-qualified name (an existing default keeps whatever name it has).
CREATE OR REPLACE FUNCTION ensure_default_partition(p_table_name text) RETURNS text
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_parent  regclass := resolve_table(p_table_name);
    v_schema  name;
    v_table   name;
    v_child   text;
    v_default oid;
BEGIN
    PERFORM partition_key(v_parent);
    SELECT n.nspname, c.relname INTO v_schema, v_table
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = v_parent;

    v_child := v_table || '_default';
    IF octet_length(v_child) > current_setting('max_identifier_length')::integer THEN
        RAISE EXCEPTION 'default partition name % of % would be % bytes, over the limit of %',
                quote_ident(v_child), qualified_name(v_parent), octet_length(v_child),
                current_setting('max_identifier_length')
            USING ERRCODE = 'name_too_long', HINT = 'Give the parent table a shorter name.';
    END IF;

    SELECT pt.partdefid INTO v_default FROM pg_partitioned_table pt WHERE pt.partrelid = v_parent;
    IF v_default <> 0 THEN
        RETURN qualified_name(v_default);
    END IF;

    EXECUTE format('LOCK TABLE %I.%I IN ACCESS EXCLUSIVE MODE', v_schema, v_table);
    -- Another session may have made it while this one waited for the lock.
    SELECT pt.partdefid INTO v_default FROM pg_partitioned_table pt WHERE pt.partrelid = v_parent;
    IF v_default <> 0 THEN
        RETURN qualified_name(v_default);
    END IF;
    IF to_regclass(format('%I.%I', v_schema, v_child)) IS NOT NULL THEN
        RAISE EXCEPTION '%.% already exists and is not the default partition of %',
                quote_ident(v_schema), quote_ident(v_child), qualified_name(v_parent)
            USING ERRCODE = 'duplicate_table';
    END IF;
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.%I DEFAULT', v_schema, v_child, v_schema, v_table);
    RETURN format('%I.%I', v_schema, v_child);
END;
$$;
