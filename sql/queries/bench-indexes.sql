-- partkit bench: the indexes of a table, each as the statement that recreates it (the primary key as
-- ALTER TABLE ... ADD PRIMARY KEY), primary key first. $1: the table (regclass text).
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name, pg_get_indexdef(x.indexrelid) AS def,
       CASE WHEN x.indisprimary THEN 'ALTER TABLE ' || $1 || ' ADD ' || pg_get_constraintdef(k.oid) END AS constraint_def
  FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_constraint k ON k.conindid = x.indexrelid AND k.contype = 'p'
 WHERE x.indrelid = $1::regclass ORDER BY x.indisprimary DESC, c.relname
