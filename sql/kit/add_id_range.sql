-- The id range of one partition of a table with time-ordered ids (managed_table.id_ranges).
-- A month gets a CHECK that id lies in [uuid_v7_floor(lower bound), uuid_v7_floor(upper bound)),
-- from which the planner (constraint_exclusion = partition, the default) skips the month for
-- `WHERE id = <an id of another month>`, given as a literal or a bound parameter; and a BEFORE
-- trigger that gives a row whose id lies outside the range (an id the application supplied: a v4,
-- a UUIDv7 of another month, one made a moment before midnight by a client whose clock runs ahead;
-- an update that moves a row to another month) an id derived from its created_at, so that the CHECK
-- never rejects a row. The default partition gets the trigger only, with the range of the row's
-- own month in the table's zone, so that the months later made from its rows keep their ids and
-- still get their range. A month that already holds a row outside its range gets neither: its rows
-- keep their ids, and the month is just not skipped.
-- Month creation calls this for the month it made (add_month_partition; add_id_ranges after
-- pg_partman). A drain's swap calls it with p_check false for the months and the default it
-- attaches: the trigger only, at once under the swap's lock (no scan), so that every row the months
-- get from then on lies in their range; add_id_ranges adds the CHECK later. Returns true when
-- something was added now.
CREATE FUNCTION add_id_range(p_partition regclass, p_check boolean DEFAULT true) RETURNS boolean
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_parent  regclass;
    v_config  managed_table;
    v_bounds  record;
    v_low     uuid;
    v_high    uuid;
    v_outside boolean;
    v_month   text;
    v_trigger boolean;
BEGIN
    SELECT i.inhparent INTO v_parent FROM pg_inherits i WHERE i.inhrelid = p_partition;
    SELECT m.* INTO v_config
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN managed_table m ON m.parent_schema = n.nspname AND m.parent_table = c.relname
     WHERE c.oid = v_parent;
    IF NOT coalesce(v_config.id_ranges, false) THEN
        RETURN false;
    END IF;
    IF (partition_key(v_parent)).control_type <> 'timestamptz' THEN
        RETURN false;
    END IF;
    v_trigger := EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = p_partition AND t.tgname = 'partkit_id_range');
    v_bounds := partition_bounds(p_partition);
    IF v_trigger AND (v_bounds.is_default OR NOT p_check
                      OR EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = p_partition AND k.conname = 'partkit_id_range')) THEN
        RETURN false;
    END IF;
    IF v_bounds.is_default THEN
        -- Infinite and NULL created_at have no month: such rows keep their ids.
        v_month := format('date_trunc(''month'', NEW.created_at AT TIME ZONE %L)', v_config.time_zone);
        EXECUTE format('CREATE TRIGGER partkit_id_range BEFORE INSERT OR UPDATE OF id, created_at ON %s FOR EACH ROW '
                       'WHEN (isfinite(NEW.created_at) AND (NEW.id IS NULL OR NEW.id < %I.uuid_v7_floor(%s AT TIME ZONE %L) '
                       'OR NEW.id >= %I.uuid_v7_floor((%s + interval ''1 month'') AT TIME ZONE %L))) EXECUTE FUNCTION %I.derive_id()',
                       qualified_name(p_partition), current_schema(), v_month, v_config.time_zone,
                       current_schema(), v_month, v_config.time_zone, current_schema());
        RETURN true;
    END IF;
    IF NOT isfinite(v_bounds.lower_bound) OR NOT isfinite(v_bounds.upper_bound) THEN
        RETURN false;
    END IF;
    -- partition_bounds gives a timestamptz bound as its UTC wall time.
    v_low := uuid_v7_floor(v_bounds.lower_bound AT TIME ZONE 'UTC');
    v_high := uuid_v7_floor(v_bounds.upper_bound AT TIME ZONE 'UTC');
    IF p_check THEN
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE id < %L::uuid OR id >= %L::uuid)', qualified_name(p_partition), v_low, v_high)
           INTO v_outside;
        IF v_outside THEN
            RETURN false;
        END IF;
    END IF;
    IF NOT v_trigger THEN
        EXECUTE format('CREATE TRIGGER partkit_id_range BEFORE INSERT OR UPDATE OF id, created_at ON %s FOR EACH ROW '
                       'WHEN (NEW.id IS NULL OR NEW.id < %L::uuid OR NEW.id >= %L::uuid) EXECUTE FUNCTION %I.derive_id()',
                       qualified_name(p_partition), v_low, v_high, current_schema());
    END IF;
    IF NOT p_check THEN
        RETURN NOT v_trigger;
    END IF;
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT partkit_id_range CHECK (id >= %L::uuid AND id < %L::uuid)',
                   qualified_name(p_partition), v_low, v_high);
    RETURN true;
END;
$$;
