-- What points at one table and does not follow a swap: views (through their rewrite rules) and
-- foreign keys of other tables (or itself). Names are schema-qualified. $1 table oid
SELECT 'view' AS kind,
       quote_ident(vn.nspname) || '.' || quote_ident(v.relname) AS name,
       NULL::text AS definition
  FROM pg_depend d
  JOIN pg_rewrite r ON r.oid = d.objid
  JOIN pg_class v ON v.oid = r.ev_class
  JOIN pg_namespace vn ON vn.oid = v.relnamespace
 WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
   AND d.refobjid = $1::oid AND v.oid <> $1::oid
 GROUP BY vn.nspname, v.relname
UNION ALL
SELECT 'foreign key',
       quote_ident(cn.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(con.conname),
       pg_get_constraintdef(con.oid)
  FROM pg_constraint con
  JOIN pg_class c ON c.oid = con.conrelid
  JOIN pg_namespace cn ON cn.oid = c.relnamespace
 WHERE con.contype = 'f' AND con.confrelid = $1::oid
 ORDER BY 1, 2
