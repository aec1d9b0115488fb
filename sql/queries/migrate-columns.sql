-- Columns of one table with their type, generated/identity kind and the sequence they own
-- (serial: dependency 'a'; identity: dependency 'i'). $1 table oid
SELECT a.attname::text AS name,
       quote_ident(a.attname) AS quoted,
       format_type(a.atttypid, a.atttypmod) AS type,
       a.attgenerated::text <> '' AS generated,
       a.attidentity::text AS identity,
       s.seq_schema,
       s.seq_name,
       s.deptype
  FROM pg_attribute a
  LEFT JOIN LATERAL (
        SELECT sn.nspname::text AS seq_schema, sc.relname::text AS seq_name, d.deptype::text AS deptype
          FROM pg_depend d
          JOIN pg_class sc ON sc.oid = d.objid AND sc.relkind = 'S'
          JOIN pg_namespace sn ON sn.oid = sc.relnamespace
         WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
           AND d.refobjid = a.attrelid AND d.refobjsubid = a.attnum AND d.deptype IN ('a', 'i')
         LIMIT 1) s ON true
 WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum
