-- Gives up a drain that cannot go on (the table changed since it began: another default, a month
-- made meanwhile): the capture trigger leaves the default, the copies and the capture are dropped,
-- and the drain's row goes. The rows never left the default, so nothing is lost; the next step
-- begins a new drain from the table as it is now.
CREATE FUNCTION drain_abandon(p_run_id bigint, p_config managed_table, p_drain default_drain, p_reason text) RETURNS void
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_kit  name := current_schema();
    v_old  regclass;
BEGIN
    SELECT c.oid::regclass INTO v_old FROM pg_class c WHERE c.oid = p_drain.old_default;
    IF v_old IS NOT NULL THEN
        PERFORM drain_drop_triggers(v_old);
    END IF;
    PERFORM drain_drop_copies(p_drain.staging);
    DELETE FROM default_drain d WHERE d.parent_schema = p_drain.parent_schema AND d.parent_table = p_drain.parent_table;
    INSERT INTO maintenance_event (run_id, parent_schema, parent_table, action, partition_name, detail)
    VALUES (p_run_id, p_config.parent_schema, p_config.parent_table, 'drained', format('%I.%I', p_config.parent_schema, p_drain.default_name),
            format('an earlier drain was given up (%s): its copies were dropped, nothing had left the default', p_reason));
END;
$$;
