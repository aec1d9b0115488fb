/**
 * A table name that names nothing: the error says so and, for a typo, names the table the user
 * probably meant, with the command to run for it (never the same command with the same typo).
 */
import type { Database } from './db.js';
import { MissingCapabilityError } from './errors.js';
import { displayName, type QualifiedName } from './identifiers.js';
import { shellQuote } from './shell.js';

/** Edit distance (insert, delete, replace one character), for names of at most a few dozen characters. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * Tables of the database whose names are close to `name` (a typo, another case, another schema),
 * closest first, at most three. Partitions and the kit's own schemas are left out.
 */
export async function similarTables(db: Database, name: QualifiedName): Promise<QualifiedName[]> {
  const rows = await db.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`,
  );
  const wanted = displayName(name).toLowerCase();
  const limit = Math.max(2, Math.floor(wanted.length / 4));
  return rows
    .map((row) => ({ row, distance: row.name === name.name ? 0 : editDistance(wanted, displayName(row).toLowerCase()) }))
    .filter(({ row, distance }) => distance <= limit && !(row.schema === name.schema && row.name === name.name))
    .sort((a, b) => a.distance - b.distance || displayName(a.row).localeCompare(displayName(b.row)))
    .slice(0, 3)
    .map(({ row }) => ({ schema: row.schema, name: row.name }));
}

/**
 * "Table X does not exist" (exit 4, nothing changed), with the closest existing names and
 * `retry(name)`, the command to run with the first of them, as the hint.
 */
export async function tableNotFound(db: Database, name: QualifiedName, retry: (table: string) => string): Promise<MissingCapabilityError> {
  return tableNotFoundError(name, await similarTables(db, name), db.name, retry);
}

/** tableNotFound's error from the similar names already read (`database`: its name, for the message). */
export function tableNotFoundError(name: QualifiedName, similar: readonly QualifiedName[], database: string, retry: (table: string) => string): MissingCapabilityError {
  const [first] = similar;
  const hint = first
    ? `Did you mean ${similar.map((table) => displayName(table)).join(' or ')}? ${retry(shellQuote(displayName(first)))}`
    : `No table has a similar name. Names are SQL: schema.table, with double quotes around mixed-case parts (public."Odd Name"); psql's \\dt *.* lists the tables.`;
  return new MissingCapabilityError(`Table ${displayName(name)} does not exist in database ${database} (nothing was changed).`, hint);
}
