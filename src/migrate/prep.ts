/**
 * `partkit migrate prep <table>` (phase 1): creates `<table>_partitioned` next to the table,
 * same columns, defaults, NOT NULL, CHECK constraints, identity, comments, indexes, outgoing
 * foreign keys and grants, PARTITION BY RANGE on the control column, with the months the data
 * spans (through the current month + premake) and a default partition. The table itself is not
 * touched. Children get their final names (the strategy's naming), so that after the swap
 * `partkit provision` adopts them; registration (pg_partman's part_config, the kit's
 * managed_table) is left to provision because both record the parent by name, which the swap changes.
 *
 * It reads once (prep-state.ts: one read-only snapshot), plans with a pure function (prep-plan.ts,
 * whose sections are prep-keys, prep-months, prep-copies, prep-capture and prep-citus), then runs the plan.
 */
import type { Config, Strategy } from '../core/config.js';
import type { Database } from '../core/db.js';
import { displayName } from '../core/identifiers.js';
import { partkitCommand } from '../core/shell.js';
import { run, underRunLock } from '../core/runner.js';
import { planPrep, type PrepOptions, type PrepPlan } from './prep-plan.js';
import { readPrepState } from './prep-state.js';
import type { MonthToArchive } from './retention.js';

export { planPrep, type PrepOptions, type PrepPlan } from './prep-plan.js';
export { readPrepState, readUserTriggers, type PrepState } from './prep-state.js';
export { boundLiteral, childName } from './prep-months.js';

export interface PrepResult {
  readonly table: string;
  /** The table as SQL writes it (quoted where needed): the form partkit's commands take. */
  readonly sqlName: string;
  readonly partitioned: string;
  readonly strategy: Strategy;
  readonly months: readonly string[];
  readonly primaryKey: PrepPlan['primaryKey'];
  readonly archive: readonly MonthToArchive[];
  readonly notes: readonly string[];
  readonly warnings: readonly string[];
  readonly steps: readonly string[];
  readonly changes: number;
  readonly dryRun: boolean;
  readonly sql?: string;
}

export async function prep(db: Database, config: Config, input: string, options: PrepOptions & { dryRun?: boolean | undefined } = {}): Promise<PrepResult> {
  return underRunLock(db, options, () => prepLocked(db, config, input, options));
}

async function prepLocked(db: Database, config: Config, input: string, options: PrepOptions & { dryRun?: boolean | undefined }): Promise<PrepResult> {
  // Read once, then plan with a pure function: nothing is read between the snapshot and the run.
  const planned = planPrep(await readPrepState(db, config, input), config, options);
  const { names } = planned.inspection;
  const result = {
    table: displayName(names.table),
    sqlName: displayName(names.table),
    partitioned: displayName(names.partitioned),
    strategy: planned.strategy,
    months: planned.months,
    primaryKey: planned.primaryKey,
    archive: planned.archive,
    notes: planned.notes,
    warnings: planned.warnings,
    steps: planned.steps.map((step) => step.description),
    changes: planned.steps.length,
    dryRun: options.dryRun ?? false,
  };
  const outcome = await run(db, { steps: planned.steps }, { dryRun: options.dryRun ?? false });
  return outcome.dryRun ? { ...result, sql: outcome.sql } : result;
}

export function renderPrep(result: PrepResult): string {
  if (result.sql !== undefined) return result.sql;
  const lines = [
    result.changes === 0
      ? `${result.partitioned} is ready: nothing to change.`
      : `${result.partitioned} prepared for ${result.table} (${result.changes} step(s), strategy ${result.strategy} naming)${result.months.length > 0 ? `: months ${result.months[0]} to ${result.months.at(-1)} + default` : ''}`,
    `  primary key: (${result.primaryKey.after.join(', ')})${result.primaryKey.widened ? ` (widened from (${result.primaryKey.before.join(', ')}))` : ''}`,
  ];
  for (const note of result.notes) lines.push(`  note: ${note}`);
  for (const warning of result.warnings) lines.push(`  warning: ${warning}`);
  lines.push(`next: ${partkitCommand(['migrate', 'fill', result.sqlName])}`);
  return lines.join('\n');
}
