/**
 * The kit's own schema (sql/migrations), installed for both strategies: the managed-table
 * registry, create_monthly_partition, run_maintenance and the maintenance log.
 */
import { loadMigrationFiles } from 'postgres-migrations';
import type { Database } from './db.js';
import { quoteIdent } from './identifiers.js';
import type { MigrationsStep } from './plan.js';
import { sqlPath } from './sql-files.js';

export const MIGRATIONS_DIR = sqlPath('migrations');

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

export async function planKitInstall(db: Database, kitSchema: string): Promise<MigrationsStep[]> {
  const pending = await pendingMigrations(db, kitSchema);
  if (pending.length === 0) return [];
  return [
    {
      kind: 'migrations',
      description: `install partkit's objects in schema ${kitSchema} (${pending.join(', ')})`,
      schema: kitSchema,
      known: (await loadMigrationFiles(MIGRATIONS_DIR)).map(({ id, name, fileName, hash, sql }) => ({ id, name, fileName, hash, sql })),
      pending,
    },
  ];
}

/** The statement the maintenance job runs; also what `partkit maintain` calls. */
export function maintenanceCall(kitSchema: string): string {
  return `SELECT * FROM ${quoteIdent(kitSchema)}.run_maintenance()`;
}
