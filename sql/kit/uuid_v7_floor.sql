-- The smallest uuid whose 48-bit time is p_at in Unix milliseconds: uuids compare byte by byte, so
-- every UUIDv7 made from a moment in [a, b) lies in [uuid_v7_floor(a), uuid_v7_floor(b)).
CREATE FUNCTION uuid_v7_floor(p_at timestamptz) RETURNS uuid
LANGUAGE sql
IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT encode(substring(int8send(floor(extract(epoch FROM p_at) * 1000)::bigint) FROM 3)
                  || '\x00000000000000000000'::bytea, 'hex')::uuid
$$;
