-- The control column and its type come from the catalog's partition key, never from the caller:
-- the key is what the partition bounds are compared against.
CREATE OR REPLACE FUNCTION partition_key(p_parent regclass, OUT control_column text, OUT control_type text)
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_strategy "char";
    v_key_count smallint;
    v_attnum smallint;
    v_type oid;
BEGIN
    SELECT pt.partstrat, pt.partnatts, pt.partattrs[0]
      INTO v_strategy, v_key_count, v_attnum
      FROM pg_partitioned_table pt
     WHERE pt.partrelid = p_parent;
    IF NOT FOUND OR v_strategy <> 'r' THEN
        RAISE EXCEPTION '% is not a range-partitioned table', qualified_name(p_parent)
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Create it with PARTITION BY RANGE (created_at).';
    END IF;
    IF v_key_count <> 1 OR v_attnum = 0 THEN
        RAISE EXCEPTION '% must be partitioned by range on one plain column', qualified_name(p_parent)
            USING ERRCODE = 'wrong_object_type';
    END IF;

    SELECT a.attname, a.atttypid INTO control_column, v_type
      FROM pg_attribute a
     WHERE a.attrelid = p_parent AND a.attnum = v_attnum;
    control_type := CASE v_type
        WHEN 'timestamptz'::regtype THEN 'timestamptz'
        WHEN 'timestamp'::regtype THEN 'timestamp'
        WHEN 'date'::regtype THEN 'date'
    END;
    IF control_type IS NULL THEN
        RAISE EXCEPTION 'partition key % of % has type %; monthly partitions need timestamptz, timestamp or date',
                quote_ident(control_column), qualified_name(p_parent), format_type(v_type, NULL)
            USING ERRCODE = 'wrong_object_type';
    END IF;
END;
$$;
