-- Drops a drain's triggers from a default partition (DROP TRIGGER takes ACCESS EXCLUSIVE on it:
-- only when there is one to drop).
CREATE FUNCTION drain_drop_triggers(p_default regclass) RETURNS void
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_trigger name;
BEGIN
    FOR v_trigger IN SELECT t.tgname FROM pg_trigger t
                      WHERE t.tgrelid = p_default AND t.tgname IN ('partkit_drain_capture', 'partkit_drain_truncate') LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', v_trigger, qualified_name(p_default));
    END LOOP;
END;
$$;
