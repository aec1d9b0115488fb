-- Gives a table partkit creates time-ordered ids: the id column's default becomes a UUIDv7 of now()
-- (the moment created_at's default now() takes, so an omitted id is made from the same instant; a
-- plain SQL function the planner inlines, cheaper per row than a trigger), and a BEFORE INSERT trigger
-- on the parent (cloned onto every partition, the default and months made later by either strategy)
-- fills an explicit NULL id from the row's created_at (derive_id). A late row whose created_at the
-- application sets gets its id made from created_at by its partition's id range (add_id_range).
-- The table must have the columns of sql/tables/: id uuid and created_at timestamptz. A second call
-- changes nothing. Returns true when it changed the table.
CREATE FUNCTION use_time_ordered_ids(p_table regclass) RETURNS boolean
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_changed boolean := false;
    v_default text;
BEGIN
    IF (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
         WHERE a.attrelid = p_table AND a.attname = 'id' AND NOT a.attisdropped) IS DISTINCT FROM 'uuid'
       OR (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
            WHERE a.attrelid = p_table AND a.attname = 'created_at' AND NOT a.attisdropped) IS DISTINCT FROM 'timestamp with time zone' THEN
        RAISE EXCEPTION '% needs the columns id uuid and created_at timestamptz for time-ordered ids', qualified_name(p_table)
            USING ERRCODE = 'invalid_object_definition';
    END IF;
    v_default := format('%I.uuid_v7_at(now())', current_schema());
    IF (SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
         WHERE d.adrelid = p_table AND a.attname = 'id') IS DISTINCT FROM v_default THEN
        EXECUTE format('ALTER TABLE %s ALTER COLUMN id SET DEFAULT %s', qualified_name(p_table), v_default);
        v_changed := true;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = p_table AND t.tgname = 'partkit_id' AND NOT t.tgisinternal) THEN
        EXECUTE format('CREATE TRIGGER partkit_id BEFORE INSERT ON %s FOR EACH ROW WHEN (NEW.id IS NULL) '
                       'EXECUTE FUNCTION %I.derive_id()', qualified_name(p_table), current_schema());
        v_changed := true;
    END IF;
    RETURN v_changed;
END;
$$;
