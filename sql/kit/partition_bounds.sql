-- A partition's range as comparable values: timestamptz bounds as UTC wall-clock timestamps, so
-- all three control types compare the same way; MINVALUE/MAXVALUE become -infinity/infinity.
-- The catalog only offers the bounds as text (pg_get_expr), printed in the session's DateStyle;
-- ISO is pinned so the text always parses back to the exact value.
CREATE OR REPLACE FUNCTION partition_bounds(
    p_partition regclass,
    OUT is_default boolean,
    OUT lower_bound timestamp,
    OUT upper_bound timestamp
)
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
SET DateStyle TO 'ISO, YMD'
AS $$
DECLARE
    v_bound_text text;
    v_parent regclass;
    v_type text;
    v_match text[];
    v_literal text;
    v_value timestamp;
BEGIN
    SELECT pg_get_expr(c.relpartbound, c.oid), i.inhparent
      INTO v_bound_text, v_parent
      FROM pg_class c
      JOIN pg_inherits i ON i.inhrelid = c.oid
     WHERE c.oid = p_partition AND c.relispartition;
    IF v_bound_text IS NULL THEN
        RAISE EXCEPTION '% is not a partition', qualified_name(p_partition)
            USING ERRCODE = 'wrong_object_type';
    END IF;
    is_default := v_bound_text = 'DEFAULT';
    IF is_default THEN
        RETURN;
    END IF;

    v_type := (partition_key(v_parent)).control_type;
    v_match := regexp_match(v_bound_text, '^FOR VALUES FROM \((.+)\) TO \((.+)\)$');
    IF v_match IS NULL THEN
        RAISE EXCEPTION 'cannot read the bounds of %: %', qualified_name(p_partition), v_bound_text;
    END IF;

    FOR i IN 1..2 LOOP
        v_literal := v_match[i];
        IF v_literal = 'MINVALUE' THEN
            v_value := '-infinity';
        ELSIF v_literal = 'MAXVALUE' THEN
            v_value := 'infinity';
        ELSE
            -- A quoted constant: strip the quotes and undouble embedded ones.
            v_literal := replace(substr(v_literal, 2, length(v_literal) - 2), '''''', '''');
            v_value := CASE v_type
                WHEN 'timestamptz' THEN v_literal::timestamptz AT TIME ZONE 'UTC'
                WHEN 'timestamp' THEN v_literal::timestamp
                ELSE v_literal::date::timestamp
            END;
        END IF;
        IF i = 1 THEN
            lower_bound := v_value;
        ELSE
            upper_bound := v_value;
        END IF;
    END LOOP;
END;
$$;
