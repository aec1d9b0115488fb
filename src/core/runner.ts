/**
 * The one runner of plans. Every command ends in `run(db, plan, { dryRun })`, or, for an operation
 * in rounds, `runPhases(db, phases, { dryRun })`: it walks the plan (walkPlan in plan.ts: grouping,
 * transactions, lock_timeout, TimeZone) and sends the walk to one of two sinks, the executor
 * (Database.applyPlan) or the script renderer (renderPlan). It also owns the run lock: a command
 * that must inspect under the lock wraps its inspect → plan → run in `underRunLock`; no command
 * takes the lock itself.
 */
import type { Database, StepRows } from './db.js';
import { planUnits, renderMigrationFile, renderPlan, renderRounds, type Plan } from './plan.js';

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

/**
 * A phase of an operation in rounds (a fill's batches, a drain's replays, an export's months): each
 * round reads the server afresh (`read`), plans from what it read (`plan`, a pure function), and
 * the runner applies that plan, until `plan` returns null. What a round found out (rows copied, keys
 * replayed, how long it took) reaches the phase through `applied`, and the next round is planned
 * from it and from a fresh read: no phase applies anything itself, and none simulates a round.
 */
export interface Phase<State, Round extends Plan = Plan> {
  /** What the phase does, for the dry run's note on later rounds. */
  readonly description: string;
  /** Reads what the next round is planned from: afresh for each round. */
  read(db: Database): Promise<State>;
  /**
   * Work outside the database that a round needs before it is planned (an export writes its file
   * and reads it back), given what was read; it returns what the plan is made from. The runner
   * calls it only when it applies: a dry run plans from the read alone.
   */
  act?(db: Database, state: State): Promise<State>;
  /**
   * The plan of round `round` (0 first), or null when the phase is done. Reads nothing, changes
   * nothing. It may carry what the phase needs to know of the round afterwards (`applied` gets it).
   */
  plan(state: State, round: number): Round | null;
  /** For a dry run, which prints the first round only: what the rounds after it would do (one sentence), or null. */
  later?(state: State): string | null;
  /**
   * After a round was applied: its rows, how long each of its transactions (planUnits) took (ms,
   * client clock, in order: a fill times its batch, not the replay after it), and its plan.
   */
  applied?(results: readonly StepRows[], unitMs: readonly number[], round: Round): void;
  /**
   * A round whose first transaction failed with an error the phase plans around (say a unique
   * violation a plain INSERT met, where the next plan uses ON CONFLICT): true reads and plans the
   * round again, once. A round that failed after a transaction of it committed is not planned again.
   */
  replan?(error: unknown): boolean;
  /** Waits this long before applying each round after the first (ms), to leave room for the application. */
  readonly pauseMs?: number;
  /** Rounds the phase runs at most. */
  readonly maxRounds?: number;
}

export type PhasesOutcome = { readonly dryRun: true; readonly sql: string } | { readonly dryRun: false; readonly rounds: readonly number[] };

/**
 * Runs the phases in order, each round by round (see Phase), under the run lock; a round is applied
 * by Database.applyPlan, with its lock_timeout, retries and cancellation. A dry run reads each phase
 * once, as the server stands now, and returns the first round of each as a script, followed by what
 * later rounds would do (renderRounds): it applies nothing, so it cannot know their plans. Returns
 * the rounds each phase applied.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each phase has its own state and rounds
export async function runPhases(db: Database, phases: readonly Phase<any, any>[], options: RunOptions): Promise<PhasesOutcome> {
  if (options.dryRun) {
    const rounds: Plan[] = [];
    const later: string[] = [];
    for (const phase of phases) {
      const state: unknown = await phase.read(db);
      const plan = phase.plan(state, 0);
      if (plan !== null && plan.steps.length > 0) rounds.push(plan);
      const note = phase.later?.(state) ?? null;
      if (note !== null) later.push(`${phase.description}: ${note}`);
    }
    return { dryRun: true, sql: renderRounds(rounds, later, { appDatabase: db.name, cronDatabase: options.cronDatabase, lockTimeout: db.lockTimeout }) };
  }
  await db.acquireRunLock();
  const applied: number[] = [];
  for (const phase of phases) {
    let round = 0;
    let replanned = false;
    while (round < (phase.maxRounds ?? Number.POSITIVE_INFINITY)) {
      const read: unknown = await phase.read(db);
      const state: unknown = phase.act ? await phase.act(db, read) : read;
      const plan = phase.plan(state, round);
      if (plan === null) break;
      if (round > 0 && !replanned && (phase.pauseMs ?? 0) > 0) await db.pause(phase.pauseMs!);
      // Unit by unit (the same units applyPlan runs), so that each transaction's time is known.
      const results: StepRows[] = [];
      const unitMs: number[] = [];
      try {
        for (const unit of planUnits(plan.steps)) {
          const started = Date.now();
          results.push(...(await db.applyPlan({ steps: unit }, { cronDatabase: options.cronDatabase })));
          unitMs.push(Date.now() - started);
        }
      } catch (error) {
        if (replanned || unitMs.length > 0 || !(phase.replan?.(error) ?? false)) throw error;
        replanned = true;
        continue;
      }
      replanned = false;
      phase.applied?.(results, unitMs, plan);
      round += 1;
    }
    applied.push(round);
  }
  return { dryRun: false, rounds: applied };
}
