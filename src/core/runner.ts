/**
 * The one runner of plans. Every command ends in `run(db, plan, { dryRun })`: it walks the plan
 * (walkPlan in plan.ts: grouping, transactions, lock_timeout, TimeZone) and sends the walk to one
 * of two sinks, the executor (Database.applyPlan) or the script renderer (renderPlan). It also owns
 * the run lock: a command that must inspect under the lock wraps its inspect → plan → run in
 * `underRunLock`; no command takes the lock itself.
 */
import type { Database, StepRows } from './db.js';
import { renderMigrationFile, renderPlan, type Plan } from './plan.js';

export interface RunOptions {
  readonly dryRun: boolean;
  /** pg_cron's database, for steps with database 'cron'. */
  readonly cronDatabase?: string | undefined;
}

export type RunOutcome = { readonly dryRun: true; readonly sql: string; readonly results: readonly [] } | { readonly dryRun: false; readonly results: StepRows[] };

/** Applies the plan (under the run lock), or, with dryRun, returns the psql script of the same walk. */
export async function run(db: Database, plan: Plan, options: RunOptions): Promise<RunOutcome> {
  if (options.dryRun) return { dryRun: true, sql: renderPlan(plan, { appDatabase: db.name, cronDatabase: options.cronDatabase, lockTimeout: db.lockTimeout }), results: [] };
  await db.acquireRunLock();
  return { dryRun: false, results: plan.steps.length > 0 ? await db.applyPlan(plan, { cronDatabase: options.cronDatabase }) : [] };
}

/** `--format sql`: the same walk as the application database's migration file (pg_cron's steps left out). */
export function renderSql(db: Database, plan: Plan, header: readonly string[]): string {
  return renderMigrationFile(plan, { appDatabase: db.name, lockTimeout: db.lockTimeout, header });
}

/**
 * Runs `body` (inspect → plan → run) holding the run lock, so that what was inspected is still
 * true when the plan runs: two partkit runs on one database take turns. A dry run takes no lock
 * and runs read-only instead (Database.readOnly): a preview writes nothing, whatever it calls.
 */
export async function underRunLock<T>(db: Database, options: { readonly dryRun?: boolean | undefined }, body: () => Promise<T>): Promise<T> {
  if (options.dryRun) return db.readOnly(body);
  await db.acquireRunLock();
  return body();
}
