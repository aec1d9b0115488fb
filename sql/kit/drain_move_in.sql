-- Part of a drain's swap: moves the new default, made in the kit's schema, into the parent's
-- schema under the old default's name, and gives its indexes the names PostgreSQL would have given
-- them there (<final name>_pkey, ...) when those are free. An index whose name is taken in the target
-- schema is first renamed to one that cannot be (<drain>_i<oid>), so the move never fails on a name.
CREATE FUNCTION drain_move_in(p_table regclass, p_schema name, p_name name, p_prefix text) RETURNS void
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_staged name;
    v_index  record;
    v_name   text;
BEGIN
    SELECT c.relname INTO v_staged FROM pg_class c WHERE c.oid = p_table;
    FOR v_index IN SELECT c.oid, c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = p_table ORDER BY c.oid LOOP
        IF to_regclass(format('%I.%I', p_schema, v_index.relname)) IS NOT NULL THEN
            EXECUTE format('ALTER INDEX %s RENAME TO %I', qualified_name(v_index.oid), format('%s_i%s', p_prefix, v_index.oid));
        END IF;
    END LOOP;
    IF (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p_table) <> p_schema THEN
        EXECUTE format('ALTER TABLE %s SET SCHEMA %I', qualified_name(p_table), p_schema);
    END IF;
    EXECUTE format('ALTER TABLE %s RENAME TO %I', qualified_name(p_table), p_name);
    FOR v_index IN SELECT c.oid, c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = p_table ORDER BY c.oid LOOP
        CONTINUE WHEN left(v_index.relname, length(v_staged)) <> v_staged;
        v_name := p_name || substr(v_index.relname, length(v_staged) + 1);
        IF octet_length(v_name) <= current_setting('max_identifier_length')::integer
           AND to_regclass(format('%I.%I', p_schema, v_name)) IS NULL THEN
            EXECUTE format('ALTER INDEX %s RENAME TO %I', qualified_name(v_index.oid), v_name);
        END IF;
    END LOOP;
END;
$$;
