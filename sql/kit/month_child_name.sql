-- The name a month's partition has under the table's strategy: <parent>_yYYYYmMM for the kit's own
-- functions, pg_partman's own name otherwise (its datetime_string after _p, the parent's name cut
-- by pg_partman's check_name_length so that the suffix fits). Month and year as the table's zone
-- counts them. A kit name over the identifier limit is an error (PostgreSQL would cut it and two
-- months would collide).
CREATE FUNCTION month_child_name(p_config managed_table, p_month_start timestamp) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_name     text;
    v_datetime text;
BEGIN
    IF p_config.strategy = 'partman' THEN
        EXECUTE format('SELECT c.datetime_string FROM %I.part_config c WHERE c.parent_table = $1', p_config.partman_schema)
           INTO v_datetime
          USING p_config.parent_schema || '.' || p_config.parent_table;
        EXECUTE format('SELECT %I.check_name_length($1, $2, true)', p_config.partman_schema)
           INTO v_name
          USING p_config.parent_table, to_char(p_month_start, coalesce(v_datetime, 'YYYYMMDD'));
        RETURN v_name;
    END IF;
    v_name := format('%s_y%sm%s', p_config.parent_table, to_char(p_month_start, 'YYYY'), to_char(p_month_start, 'MM'));
    IF octet_length(v_name) > current_setting('max_identifier_length')::integer THEN
        RAISE EXCEPTION 'partition name % of %.% would be % bytes, over the limit of %',
                quote_ident(v_name), quote_ident(p_config.parent_schema), quote_ident(p_config.parent_table),
                octet_length(v_name), current_setting('max_identifier_length')
            USING ERRCODE = 'name_too_long', HINT = 'Give the parent table a shorter name.';
    END IF;
    RETURN v_name;
END;
$$;
