-- One batch of a drain's copy: the rows of the next range of heap blocks of the default partition
-- into the partitioned copy, which routes each row to its month (or the new default). A row the
-- replay put there already is left as it is (the replay read it later). Batches are sized so that
-- one takes about 400 ms. Returns the rows copied.
CREATE FUNCTION drain_copy(p_drain default_drain) RETURNS bigint
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_kit      name := current_schema();
    v_parent   regclass := to_regclass(format('%I.%I', p_drain.parent_schema, p_drain.parent_table));
    v_columns  text;
    v_to       bigint := least(p_drain.next_block + p_drain.batch_blocks, p_drain.end_block);
    v_started  timestamptz := clock_timestamp();
    v_rows     bigint;
    v_ms       double precision;
BEGIN
    -- Columns by name; generated columns are computed again.
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO v_columns
      FROM pg_attribute a
     WHERE a.attrelid = v_parent AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '';
    -- A TID range scan (PostgreSQL 14+): sequential reads of exactly these blocks.
    EXECUTE format('INSERT INTO %I.%I (%s) SELECT %3$s FROM ONLY %4$s WHERE ctid >= %5$L::tid AND ctid < %6$L::tid ON CONFLICT DO NOTHING',
                   v_kit, p_drain.staging, v_columns, qualified_name(p_drain.old_default::regclass),
                   format('(%s,0)', p_drain.next_block), format('(%s,0)', v_to));
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    v_ms := extract(epoch FROM clock_timestamp() - v_started) * 1000;
    UPDATE default_drain d
       SET next_block = v_to,
           batches = d.batches + 1,
           rows_copied = d.rows_copied + v_rows,
           batch_blocks = greatest(1, least(d.batch_blocks * 4, round(d.batch_blocks * 400 / greatest(v_ms, 1))))::bigint
     WHERE d.parent_schema = p_drain.parent_schema AND d.parent_table = p_drain.parent_table;
    RETURN v_rows;
END;
$$;
