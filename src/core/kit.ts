/**
 * The kit's own schema (sql/migrations), installed for both strategies: the managed-table
 * registry, create_monthly_partition, run_maintenance and the maintenance log.
 */
import { loadMigrationFiles } from 'postgres-migrations';
import type { Database } from './db.js';
import { MissingCapabilityError } from './errors.js';
import { quoteIdent } from './identifiers.js';
import type { KitMigration } from './kit-install.js';
import type { MigrationsStep } from './plan.js';
import { sqlPath } from './sql-files.js';

export const MIGRATIONS_DIR = sqlPath('migrations');

/** The kit's migration files, as postgres-migrations loads them (read from the package, not the server). */
export async function kitMigrationFiles(): Promise<KitMigration[]> {
  return (await loadMigrationFiles(MIGRATIONS_DIR)).map(({ id, name, fileName, hash, sql }) => ({ id, name, fileName, hash, sql }));
}

/**
 * The ids of the migrations the kit schema records as applied (none when it has no migrations
 * table), or null when this user may not read that table: a read that would fail is not sent, so
 * that it can run inside a snapshot (one failed statement ends a transaction).
 */
export async function readAppliedMigrations(db: Database, kitSchema: string): Promise<number[] | null> {
  const table = `${quoteIdent(kitSchema)}.migrations`;
  const [exists] = await db.query<{ ok: boolean; readable: boolean | null }>(
    "SELECT to_regclass($1) IS NOT NULL AS ok, CASE WHEN to_regclass($1) IS NOT NULL THEN has_schema_privilege($2, 'USAGE') AND has_table_privilege(to_regclass($1), 'SELECT') END AS readable",
    [table, kitSchema],
  );
  if (!exists?.ok) return [];
  if (!exists.readable) return null;
  return (await db.query<{ id: number }>(`SELECT id FROM ${table}`)).map((row) => row.id);
}

/** File names of the migrations not applied yet, in order. */
export function pendingOf(files: readonly KitMigration[], applied: readonly number[]): string[] {
  return files.filter((file) => !applied.includes(file.id)).map((file) => file.fileName);
}

/** Names of migrations not applied yet in the kit schema. */
export async function pendingMigrations(db: Database, kitSchema: string): Promise<string[]> {
  const files = await loadMigrationFiles(MIGRATIONS_DIR);
  const [exists] = await db.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [`${quoteIdent(kitSchema)}.migrations`]);
  const applied = new Set<number>();
  if (exists?.ok) {
    for (const row of await db.query<{ id: number }>(`SELECT id FROM ${quoteIdent(kitSchema)}.migrations`)) applied.add(row.id);
  }
  return files.filter((file) => !applied.has(file.id)).map((file) => file.fileName);
}

/** The step that installs the pending migrations (none when every file is applied). */
export function kitInstallSteps(kitSchema: string, files: readonly KitMigration[], pending: readonly string[]): MigrationsStep[] {
  if (pending.length === 0) return [];
  return [{ kind: 'migrations', description: `install partkit's objects in schema ${kitSchema} (${pending.join(', ')})`, schema: kitSchema, known: files, pending }];
}

/**
 * The maintenance procedure, as the kit's pg_cron job and `partkit maintain` call it: it commits
 * between its steps (a drain of the default partition takes many), so it runs outside a
 * transaction block. Named arguments; the others keep their defaults.
 */
export function maintenanceCall(kitSchema: string, args: readonly string[] = []): string {
  return `CALL ${quoteIdent(kitSchema)}.run_maintenance_proc(${args.map((name, index) => `${name} => $${index + 1}`).join(', ')})`;
}

/** The one wording of "the kit is not here"; verify's checks and requireKit both use it. */
export function kitNotInstalled(kitSchema: string, objects?: readonly string[]): string {
  const what = objects && objects.length > 0 ? `${objects.join(' and ')} ${objects.length === 1 ? 'is' : 'are'}` : 'objects are';
  return `partkit's ${what} not installed in schema ${kitSchema}`;
}

/**
 * Whether the kit objects a command calls are there: tables by name (`archive_hold`), functions
 * with their argument types (`run_maintenance(text)`). A kit installed by an older partkit lacks
 * the newer ones, so a command asks for exactly what it calls.
 */
export async function kitHas(db: Database, kitSchema: string, objects: readonly string[]): Promise<boolean> {
  const kit = quoteIdent(kitSchema);
  for (const object of objects) {
    const lookup = object.includes('(') ? 'to_regprocedure' : 'to_regclass';
    const [row] = await db.query<{ ok: boolean }>(`SELECT ${lookup}($1) IS NOT NULL AS ok`, [`${kit}.${object}`]);
    if (!row?.ok) return false;
  }
  return true;
}

/** Refuses, before anything changes, a command whose kit objects are missing (or out of date). */
export async function requireKit(db: Database, kitSchema: string, objects: readonly string[]): Promise<void> {
  if (await kitHas(db, kitSchema, objects)) return;
  throw kitMissing(kitSchema, objects, db.name);
}

/** The refusal of requireKit (`database`: its name, for the message). */
export function kitMissing(kitSchema: string, objects: readonly string[], database: string): MissingCapabilityError {
  return new MissingCapabilityError(`${kitNotInstalled(kitSchema, objects)} of database ${database}.`, 'Run `partkit provision` first; it installs the kit and brings it up to date.');
}
