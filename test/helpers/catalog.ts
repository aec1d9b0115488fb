/**
 * What "nothing changed" and "as it was before" are checked against: the database's own objects
 * by name (oids differ when a dropped object is made again), read as the superuser.
 */
import type { TestDatabase } from './targets.js';

const USER_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'`;

export interface CatalogSnapshot {
  readonly schemas: unknown[];
  readonly relations: unknown[];
  readonly columns: unknown[];
  readonly constraints: unknown[];
  readonly indexes: unknown[];
  readonly triggers: unknown[];
  readonly functions: unknown[];
  readonly policies: unknown[];
}

/**
 * Schemas, relations (kind, owner, grants, row security), columns (type, NOT NULL, default,
 * identity), constraints, indexes, triggers (enabled or not), functions and policies outside the
 * system schemas. Two snapshots are equal when the database has the same objects in the same shape.
 */
export async function catalogSnapshot(db: TestDatabase): Promise<CatalogSnapshot> {
  const rows = async (sql: string) => (await db.query(sql)).rows;
  return {
    schemas: await rows(`SELECT n.nspname, n.nspowner::regrole::text AS owner, n.nspacl::text AS acl FROM pg_namespace n WHERE ${USER_SCHEMAS} ORDER BY 1`),
    relations: await rows(
      `SELECT n.nspname, c.relname, c.relkind, c.relowner::regrole::text AS owner, c.relacl::text AS acl, c.relrowsecurity, c.relispartition,
              pg_get_expr(c.relpartbound, c.oid) AS bound, c.relreplident
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_SCHEMAS} ORDER BY 1, 2`,
    ),
    columns: await rows(
      `SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull, a.attidentity, a.attgenerated,
              pg_get_expr(d.adbin, d.adrelid) AS default_value
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE ${USER_SCHEMAS} AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY 1, 2, 3`,
    ),
    constraints: await rows(
      `SELECT n.nspname, c.relname, k.conname, pg_get_constraintdef(k.oid) AS definition, k.convalidated
         FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_SCHEMAS} ORDER BY 1, 2, 3`,
    ),
    indexes: await rows(
      `SELECT n.nspname, i.relname AS index, regexp_replace(pg_get_indexdef(x.indexrelid), '^CREATE (UNIQUE )?INDEX \\S+', 'INDEX') AS definition, x.indisvalid
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_namespace n ON n.oid = i.relnamespace WHERE ${USER_SCHEMAS} ORDER BY 1, 2`,
    ),
    triggers: await rows(
      `SELECT n.nspname, c.relname, t.tgname, t.tgenabled, pg_get_triggerdef(t.oid) AS definition
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE ${USER_SCHEMAS} AND NOT t.tgisinternal ORDER BY 1, 2, 3`,
    ),
    functions: await rows(
      `SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid) AS arguments, p.proacl::text AS acl
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ${USER_SCHEMAS} ORDER BY 1, 2, 3`,
    ),
    policies: await rows(
      `SELECT n.nspname, c.relname, p.polname, pg_get_expr(p.polqual, p.polrelid) AS qual
         FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_SCHEMAS} ORDER BY 1, 2, 3`,
    ),
  };
}
