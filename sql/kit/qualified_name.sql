-- regclass::text leaves out schemas on the search_path, and the kit's functions pin their own
-- search_path; names that go into messages, events and return values are always qualified.
CREATE OR REPLACE FUNCTION qualified_name(p_relation regclass) RETURNS text
LANGUAGE sql STABLE
SET search_path FROM CURRENT
AS $$
    SELECT format('%I.%I', n.nspname, c.relname)
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = p_relation
$$;
