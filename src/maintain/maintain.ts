/**
 * `partkit maintain`: one maintenance run now, the procedure the pg_cron job calls
 * (`run_maintenance_proc`). This is what an external scheduler (crontab, Kubernetes CronJob, CI)
 * runs. The procedure commits between its steps (a drain of a large default partition takes
 * many), so it runs outside a transaction; what it did is read back from the maintenance log.
 */
import type { Config } from '../core/config.js';
import type { Database } from '../core/db.js';
import { ExitCode, isLockFailure } from '../core/errors.js';
import { parseQualifiedName, quoteIdent } from '../core/identifiers.js';
import type { Plan } from '../core/plan.js';
import { run } from '../core/runner.js';
import { MAINTAIN_STEP, maintenancePlan, planMaintain } from './plan.js';
import { readMaintainState } from './state.js';


export interface MaintenanceEvent {
  readonly table: string;
  readonly action: string;
  readonly partition: string | null;
  readonly detail: string | null;
  readonly rows: number | null;
  /** For a drain of the default partition: how long its swap held the parent's ACCESS EXCLUSIVE lock, in ms (measured inside it). */
  readonly lockedMs: number | null;
}

export interface MaintainResult {
  readonly ok: boolean;
  readonly runId: number | null;
  readonly events: readonly MaintenanceEvent[];
  readonly created: number;
  readonly detached: number;
  readonly failed: number;
  readonly exitCode: number;
  readonly sql?: string;
}

export async function maintain(db: Database, config: Config, options: { dryRun?: boolean | undefined; table?: string | undefined } = {}): Promise<MaintainResult> {
  const only = options.table === undefined ? undefined : parseQualifiedName(options.table);
  const state = await readMaintainState(db, config, only);
  const first = await runProcedure(db, config, planMaintain(state, config, { table: options.table ?? null, lockTimeout: db.lockTimeout }), options.dryRun ?? false);
  if (first.dryRun) return { ok: true, runId: null, events: [], created: 0, detached: 0, failed: 0, exitCode: ExitCode.ok, sql: first.sql };
  let events = first.events;
  // The procedure waits for each lock at most the executor's lock_timeout and tries once here
  // (p_attempts => 1): a table whose maintenance failed on a busy lock was rolled back to its last
  // commit and reported 'failed'. It runs again alone, with the executor's back-off (--lock-retries),
  // and giving up names the session that held the lock (LockError, exit 5). A drain resumes where
  // it stopped: the months it copied wait outside the table until its swap.
  for (const table of new Set(events.filter(lockFailed).map((event) => event.table))) {
    const retried = await db.retryingLocks(
      async () => {
        const again = await runProcedure(db, config, maintenancePlan(config, table, db.lockTimeout), false);
        const tableEvents = again.dryRun ? [] : again.events;
        const locked = tableEvents.find(lockFailed);
        // The server reported the lock error as a row; thrown with its SQLSTATE, the executor retries it.
        if (locked) throw Object.assign(new Error(locked.detail ?? 'lock busy'), { code: '55P03' });
        return tableEvents;
      },
      {
        what: () => `Maintenance of ${table} could not take its locks`,
        undone: 'The step that waited was rolled back; its steps before it stay committed (a drain of its default partition resumes where it stopped), and the other tables were maintained.',
        attemptsMade: 1,
      },
    );
    // What the first run committed for the table stays in the result, beside what the runs again did.
    events = [...events.filter((event) => event.table !== table || !lockFailed(event)), ...retried];
  }
  const count = (action: string) => events.filter((event) => event.action === action).length;
  const failed = count('failed');
  return { ok: failed === 0, runId: first.runId, events, created: count('created'), detached: count('detached'), failed, exitCode: failed === 0 ? ExitCode.ok : ExitCode.checkFailed };
}

/** One CALL of the procedure (for every table, or one: its plan), and the events of its run, read back from the maintenance log. */
async function runProcedure(db: Database, config: Config, plan: Plan, dryRun: boolean): Promise<{ dryRun: true; sql: string } | { dryRun: false; runId: number; events: MaintenanceEvent[] }> {
  const outcome = await run(db, plan, { dryRun });
  if (outcome.dryRun) return { dryRun: true, sql: outcome.sql };
  const runId = Number(outcome.results.find((result) => result.step.id === MAINTAIN_STEP)?.rows[0]?.p_run_id);
  const rows = await db.query<{ parent: string; action: string; partition_name: string | null; detail: string | null; rows: string | null; locked_ms: string | null }>(
    `SELECT format('%I.%I', e.parent_schema, e.parent_table) AS parent, e.action, e.partition_name, e.detail, e.rows, e.locked_ms
       FROM ${quoteIdent(config.kitSchema)}.maintenance_event e WHERE e.run_id = $1 ORDER BY e.id`,
    [runId],
  );
  const events = rows.map((row) => ({
    table: row.parent,
    action: row.action,
    partition: row.partition_name,
    detail: row.detail,
    rows: row.rows === null ? null : Number(row.rows),
    lockedMs: row.locked_ms === null ? null : Number(row.locked_ms),
  }));
  return { dryRun: false, runId, events };
}

/** A table that failed on a busy lock: the kit records the failure as `SQLSTATE: message ...`. */
function lockFailed(event: MaintenanceEvent): boolean {
  const failure = /^([0-9A-Z]{5}): (.*)$/s.exec(event.detail ?? '');
  return event.action === 'failed' && failure !== null && isLockFailure(failure[1], failure[2]!);
}
