/**
 * The changes a bench section makes to its own tables (schemas, tables, bulk loads, index drops and
 * builds, VACUUM, ANALYZE) go through the runner, as every command's do: steps applied by the
 * executor, logged with PARTKIT_LOG_SQL. What a section times (a query, an INSERT it rolls back,
 * DELETE + VACUUM against DETACH + DROP) it still sends on its own node-postgres client: the figure
 * is that statement as an application sends it, without the executor's BEGIN, SET LOCAL and COMMIT
 * around it, and its reads of sizes and WAL positions are part of the same measurement.
 */
import type { Database } from '../core/db.js';
import { sqlStep, type SqlStep } from '../core/plan.js';
import { run } from '../core/runner.js';

/** Applies the steps through the runner (nothing when there are none). */
export async function applyChanges(db: Database, steps: readonly SqlStep[]): Promise<void> {
  if (steps.length > 0) await run(db, { steps }, { dryRun: false });
}

/** A change of a bench section; session time zone UTC, as the sections' own clients have it. */
export function benchStep(description: string, sql: string, params?: readonly unknown[], options: Omit<SqlStep, 'kind' | 'description' | 'sql' | 'params'> = {}): SqlStep {
  return sqlStep(description, sql, { ...(params ? { params } : {}), timeZone: 'UTC', table: 'bench', ...options });
}

/** VACUUM (with ANALYZE) of each table: outside a transaction, as VACUUM must run. */
export function vacuumSteps(tables: readonly string[], analyze: boolean): SqlStep[] {
  return tables.map((table) => sqlStep(`${analyze ? 'VACUUM (ANALYZE)' : 'VACUUM'} ${table}`, `${analyze ? 'VACUUM (ANALYZE)' : 'VACUUM'} ${table}`, { transaction: false, table: 'bench' }));
}
