/**
 * `partkit maintain`: one maintenance run now, the same function the pg_cron job calls.
 * This is what an external scheduler (crontab, Kubernetes CronJob, CI) runs.
 */
import type { CommandModule } from 'yargs';
import type { Config } from '../core/config.js';
import { runCommand, type GlobalOptions } from '../core/context.js';
import type { Database } from '../core/db.js';
import { ExitCode, isLockFailure } from '../core/errors.js';
import { quoteIdent } from '../core/identifiers.js';
import { maintenanceCall, requireKit } from '../core/kit.js';
import { sqlStep, type Plan } from '../core/plan.js';
import { run } from '../core/runner.js';

export interface MaintenanceEvent {
  readonly table: string;
  readonly action: string;
  readonly partition: string | null;
  readonly detail: string | null;
  readonly rows: number | null;
}

export interface MaintainResult {
  readonly ok: boolean;
  readonly events: readonly MaintenanceEvent[];
  readonly created: number;
  readonly detached: number;
  readonly failed: number;
  readonly exitCode: number;
  readonly sql?: string;
}

export async function maintain(db: Database, config: Config, options: { dryRun?: boolean | undefined; table?: string | undefined } = {}): Promise<MaintainResult> {
  await requireKit(db, config.kitSchema, ['run_maintenance(text)']);
  const call = options.table === undefined ? maintenanceCall(config.kitSchema) : tableCall(config.kitSchema);
  const plan: Plan = { steps: [sqlStep(`run maintenance${options.table ? ` of ${options.table}` : ''}`, call, options.table ? { params: [options.table] } : {})] };
  const outcome = await run(db, plan, { dryRun: options.dryRun ?? false });
  if (outcome.dryRun) return { ok: true, events: [], created: 0, detached: 0, failed: 0, exitCode: ExitCode.ok, sql: outcome.sql };
  let events = eventsOf(outcome.results[0]?.rows ?? []);
  // A table whose maintenance waited longer than lock_timeout for a lock was rolled back (its own
  // subtransaction) and reported 'failed': it runs again alone, with the executor's back-off, and
  // giving up names the session that held the lock (LockError, exit 5).
  for (const table of new Set(events.filter(lockFailed).map((event) => event.table))) {
    const retried = await db.retryingLocks(
      async () => {
        const again = await run(db, { steps: [sqlStep(`run maintenance of ${table} again (a lock was busy)`, tableCall(config.kitSchema), { params: [table] })] }, { dryRun: false });
        const tableEvents = eventsOf(again.dryRun ? [] : (again.results[0]?.rows ?? []));
        const locked = tableEvents.find(lockFailed);
        // The server reported the lock error as a row; thrown with its SQLSTATE, the executor retries it.
        if (locked) throw Object.assign(new Error(locked.detail ?? 'lock busy'), { code: '55P03' });
        return tableEvents;
      },
      { what: () => `Maintenance of ${table} could not take its locks`, undone: 'Nothing of its maintenance was applied; the other tables were maintained.', attemptsMade: 1 },
    );
    events = [...events.filter((event) => event.table !== table), ...retried];
  }
  const count = (action: string) => events.filter((event) => event.action === action).length;
  const failed = count('failed');
  return { ok: failed === 0, events, created: count('created'), detached: count('detached'), failed, exitCode: failed === 0 ? ExitCode.ok : ExitCode.checkFailed };
}

function tableCall(kitSchema: string): string {
  return `SELECT * FROM ${quoteIdent(kitSchema)}.run_maintenance($1)`;
}

function eventsOf(rows: readonly Record<string, unknown>[]): MaintenanceEvent[] {
  return rows.map((row) => ({
    table: String(row.parent),
    action: String(row.action),
    partition: (row.partition_name as string | null) ?? null,
    detail: (row.detail as string | null) ?? null,
    rows: row.rows === null || row.rows === undefined ? null : Number(row.rows),
  }));
}

/** A table that failed on a busy lock: the kit records the failure as `SQLSTATE: message ...`. */
function lockFailed(event: MaintenanceEvent): boolean {
  const failure = /^([0-9A-Z]{5}): (.*)$/s.exec(event.detail ?? '');
  return event.action === 'failed' && failure !== null && isLockFailure(failure[1], failure[2]!);
}

export function renderMaintain(result: MaintainResult): string {
  if (result.sql !== undefined) return result.sql;
  const lines = result.events.map((event) => `  ${event.action.padEnd(8)} ${event.table}${event.partition ? ` ${event.partition}` : ''}${event.rows ? ` (${event.rows} rows)` : ''}${event.detail ? `: ${event.detail}` : ''}`);
  lines.unshift(`maintenance ${result.ok ? 'done' : 'FAILED for some tables'}: ${result.created} created, ${result.detached} detached${result.failed ? `, ${result.failed} failed` : ''}`);
  return lines.join('\n');
}

interface MaintainArgs extends GlobalOptions {
  readonly table?: string;
}

export const maintainCommand: CommandModule<GlobalOptions, MaintainArgs> = {
  command: 'maintain',
  describe: 'Run maintenance once now: premake months, move default rows, archive old months (for external schedulers)',
  builder: (yargs) => yargs.option('table', { type: 'string', describe: 'Only this table (schema.table)' }),
  handler: async (args) => {
    await runCommand(args, async (ctx) => maintain(await ctx.database(), ctx.config, { dryRun: args.dryRun, table: args.table }), renderMaintain);
  },
};
