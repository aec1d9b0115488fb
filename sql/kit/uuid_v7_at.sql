-- A UUIDv7 (RFC 9562) whose 48-bit time is p_at in Unix milliseconds, the rest random (from
-- gen_random_uuid, with the version set to 7; its variant bits are already RFC 9562's). The ids of
-- a table with time-ordered ids are made by this from the row's created_at, so an id tells its
-- month. PostgreSQL 18's uuidv7() takes the clock instead; this is the same on 14 to 18.
-- No SET search_path: it calls only pg_catalog functions, and a plain SQL function can be inlined.
CREATE FUNCTION uuid_v7_at(p_at timestamptz) RETURNS uuid
LANGUAGE sql
VOLATILE PARALLEL SAFE
AS $$
    SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
                                          PLACING substring(int8send(floor(extract(epoch FROM p_at) * 1000)::bigint) FROM 3)
                                          FROM 1 FOR 6),
                                  52, 1), 53, 1),
                  'hex')::uuid
$$;
