-- The trigger of tables with time-ordered ids (managed_table.id_ranges): the row's id becomes a
-- UUIDv7 made from its own created_at. The triggers' WHEN clauses decide when: on the parent (and so
-- on every partition) for a row whose id is NULL (the application left it to the database); on a
-- partition with an id range (add_id_range) also for an id outside that range, which a month's
-- CHECK would otherwise reject. Routing happened before BEFORE triggers run, so created_at lies in
-- the month's bounds and the new id in its range. A created_at with no time (infinity) gets a
-- random id: it has no month.
CREATE FUNCTION derive_id() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
    NEW.id := CASE WHEN isfinite(NEW.created_at) THEN uuid_v7_at(NEW.created_at) ELSE gen_random_uuid() END;
    RETURN NEW;
END;
$$;
