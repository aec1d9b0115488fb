-- Objects outside the kit's schema ($1) that depend on something in it, with what deprovision needs
-- to hand them back: the table of a column default or a trigger, the column and whether it is a uuid,
-- the trigger and whether it is a partition's clone of its parent's.
SELECT DISTINCT o.type || ' ' || o.identity AS what, n.nspname::text AS schema, c.relname::text AS relation,
       a.attname::text AS "column", coalesce(a.atttypid = 'uuid'::regtype, false) AS uuid,
       t.tgname::text AS trigger, coalesce(t.tgparentid <> 0, false) AS clone
  FROM pg_depend d
 CROSS JOIN LATERAL pg_identify_object(d.classid, d.objid, d.objsubid) o
 CROSS JOIN LATERAL pg_identify_object(d.refclassid, d.refobjid, 0) r
  LEFT JOIN pg_attrdef ad ON d.classid = 'pg_attrdef'::regclass AND ad.oid = d.objid
  LEFT JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
  LEFT JOIN pg_trigger t ON d.classid = 'pg_trigger'::regclass AND t.oid = d.objid
  LEFT JOIN pg_class c ON c.oid = coalesce(ad.adrelid, t.tgrelid)
  LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE r.schema = $1 AND o.schema IS DISTINCT FROM $1 AND d.deptype IN ('n', 'a')
   AND position(' ' || quote_ident($1) || '.' IN ' ' || o.identity) = 0
 ORDER BY 1
