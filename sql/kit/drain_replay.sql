-- Replays up to p_limit captured changes of a drain into its partitioned copy: for each captured
-- key, the copy's row is deleted and the default's current row, if there is one, inserted. It reads
-- the default's state, never the change itself, so the order of copy batches, writers and replays
-- does not matter: after the last replay of a key, the copy holds what the default holds. The
-- capture rows taken are the ones the first statement sees, and only those are deleted: a change
-- committed later stays for the next replay. Returns how many capture rows it took.
CREATE FUNCTION drain_replay(p_drain default_drain, p_limit integer) RETURNS bigint
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_kit      name := current_schema();
    v_parent   regclass := to_regclass(format('%I.%I', p_drain.parent_schema, p_drain.parent_table));
    v_capture  text := format('%I.%I', current_schema(), p_drain.staging || '_capture');
    v_seqs     bigint[];
    v_keys     text;
    v_match    text;
    v_columns  text;
BEGIN
    EXECUTE format('SELECT array_agg(seq) FROM (SELECT seq FROM %s ORDER BY seq LIMIT $1) s', v_capture)
       INTO v_seqs
      USING p_limit;
    IF v_seqs IS NULL THEN
        RETURN 0;
    END IF;
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
           string_agg(format('t.%1$I = k.%1$I', a.attname), ' AND ' ORDER BY a.attnum)
      INTO v_keys, v_match
      FROM pg_attribute a
     WHERE a.attrelid = format('%s', v_capture)::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> 'seq';
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO v_columns
      FROM pg_attribute a
     WHERE a.attrelid = v_parent AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '';
    EXECUTE format('DELETE FROM %I.%I t USING (SELECT DISTINCT %s FROM %s WHERE seq = ANY ($1)) k WHERE %s',
                   v_kit, p_drain.staging, v_keys, v_capture, v_match)
      USING v_seqs;
    EXECUTE format('INSERT INTO %I.%I (%s) SELECT %s FROM (SELECT DISTINCT %s FROM %s WHERE seq = ANY ($1)) k JOIN ONLY %s t ON %s',
                   v_kit, p_drain.staging, v_columns,
                   (SELECT string_agg('t.' || quote_ident(a.attname), ', ' ORDER BY a.attnum)
                      FROM pg_attribute a
                     WHERE a.attrelid = v_parent AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''),
                   v_keys, v_capture, qualified_name(p_drain.old_default::regclass), v_match)
      USING v_seqs;
    EXECUTE format('DELETE FROM %s WHERE seq = ANY ($1)', v_capture) USING v_seqs;
    UPDATE default_drain d SET keys_replayed = d.keys_replayed + cardinality(v_seqs)
     WHERE d.parent_schema = p_drain.parent_schema AND d.parent_table = p_drain.parent_table;
    RETURN cardinality(v_seqs);
END;
$$;
