-- Turns a table name written as SQL (public.messages, "Odd ""Name"" Logs") into a regclass.
-- The kit's functions run with their own pinned search_path, so an unqualified name cannot follow
-- the caller's search_path: it must match exactly one managed table, or else exactly one table in
-- the database. Anything ambiguous is an error that lists the candidates.
CREATE OR REPLACE FUNCTION resolve_table(p_table_name text) RETURNS regclass
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_parts      text[];
    v_relation   regclass;
    v_count      integer;
    v_candidates text;
BEGIN
    IF p_table_name IS NULL OR btrim(p_table_name) = '' THEN
        RAISE EXCEPTION 'a table name is required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_parts := parse_ident(p_table_name);

    IF cardinality(v_parts) = 2 THEN
        v_relation := to_regclass(format('%I.%I', v_parts[1], v_parts[2]));
        IF v_relation IS NULL THEN
            RAISE EXCEPTION 'table %.% does not exist', quote_ident(v_parts[1]), quote_ident(v_parts[2])
                USING ERRCODE = 'undefined_table';
        END IF;
        RETURN v_relation;
    ELSIF cardinality(v_parts) <> 1 THEN
        RAISE EXCEPTION 'table name % should be table or schema.table', quote_literal(p_table_name)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    SELECT count(*), min(to_regclass(format('%I.%I', m.parent_schema, m.parent_table))::oid)::regclass
      INTO v_count, v_relation
      FROM managed_table m
     WHERE m.parent_table = v_parts[1];
    IF v_count = 1 AND v_relation IS NOT NULL THEN
        RETURN v_relation;
    END IF;

    SELECT count(*), min(c.oid)::regclass,
           string_agg(format('%I.%I', n.nspname, c.relname), ', ' ORDER BY n.nspname)
      INTO v_count, v_relation, v_candidates
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relname = v_parts[1]
       AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
       AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname NOT LIKE 'pg\_toast%'
       AND n.nspname NOT LIKE 'pg\_temp\_%';
    IF v_count = 0 THEN
        RAISE EXCEPTION 'table % does not exist', quote_ident(v_parts[1])
            USING ERRCODE = 'undefined_table';
    ELSIF v_count > 1 THEN
        RAISE EXCEPTION 'table name % is ambiguous: %', quote_ident(v_parts[1]), v_candidates
            USING ERRCODE = 'ambiguous_alias', HINT = 'Qualify it with its schema.';
    END IF;
    RETURN v_relation;
END;
$$;
