-- Gives a table partkit creates time-ordered ids: its id column loses its default and a BEFORE
-- INSERT trigger on the parent (cloned onto every partition, the default and months made later by
-- either strategy) fills a NULL id from the row's created_at (derive_id). The table must have the
-- columns of sql/tables/: id uuid and created_at timestamptz. A second call changes nothing.
-- Returns true when it changed the table.
CREATE FUNCTION use_time_ordered_ids(p_table regclass) RETURNS boolean
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_changed boolean := false;
BEGIN
    IF (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
         WHERE a.attrelid = p_table AND a.attname = 'id' AND NOT a.attisdropped) IS DISTINCT FROM 'uuid'
       OR (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
            WHERE a.attrelid = p_table AND a.attname = 'created_at' AND NOT a.attisdropped) IS DISTINCT FROM 'timestamp with time zone' THEN
        RAISE EXCEPTION '% needs the columns id uuid and created_at timestamptz for time-ordered ids', qualified_name(p_table)
            USING ERRCODE = 'invalid_object_definition';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
                WHERE d.adrelid = p_table AND a.attname = 'id') THEN
        EXECUTE format('ALTER TABLE %s ALTER COLUMN id DROP DEFAULT', qualified_name(p_table));
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
