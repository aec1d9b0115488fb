-- Views and materialized views that read one table directly (through their rewrite rules), with
-- what the swap needs to recreate them: definition and options. $1 table oid
SELECT DISTINCT quote_ident(vn.nspname) || '.' || quote_ident(v.relname) AS name,
       v.relkind::text AS relkind,
       pg_get_viewdef(v.oid) AS definition,
       v.reloptions AS options
  FROM pg_depend d
  JOIN pg_rewrite r ON r.oid = d.objid
  JOIN pg_class v ON v.oid = r.ev_class
  JOIN pg_namespace vn ON vn.oid = v.relnamespace
 WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
   AND d.refobjid = $1::oid AND v.oid <> $1::oid
 ORDER BY 1
