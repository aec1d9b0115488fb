/**
 * `partkit migrate abort <table>` (pgslice's `unprep`): the way back from prep and fill. It removes
 * what prep made, in one transaction: the capture triggers on the table, the capture table and
 * its trigger function (the fill's progress lives in the capture table's comment), and the
 * partitioned copy `<table>_partitioned` with its months. The table itself, its rows, indexes,
 * views and grants are never touched, so the database is as it was before prep. After the swap the
 * way back is `partkit migrate unswap` (then abort); after drop there is none.
 */
import type { Config } from '../core/config.js';
import type { Database } from '../core/db.js';
import { ConflictError } from '../core/errors.js';
import { displayName } from '../core/identifiers.js';
import { sqlStep, type SqlStep } from '../core/plan.js';
import { run, underRunLock } from '../core/runner.js';
import { partkitCommand } from '../core/shell.js';
import { captureName, citusTriggerSettingSteps, dropCaptureSteps, dropCaptureTriggerSteps, readCapture, readCaptureTriggers } from './capture.js';
import { inspectMigration } from './inspect.js';

export interface AbortResult {
  readonly table: string;
  /** The table as SQL writes it (quoted where needed): the form partkit's commands take. */
  readonly sqlName: string;
  /** 'aborted' (with --dry-run: would be), or 'nothing to abort' (no prep left, or the migration is finished). */
  readonly state: 'aborted' | 'nothing to abort';
  /** Why there is nothing to abort, when there is not. */
  readonly note: string | null;
  readonly steps: readonly string[];
  readonly warnings: readonly string[];
  readonly changes: number;
  readonly dryRun: boolean;
  readonly sql?: string;
}

export async function abort(db: Database, config: Config, input: string, options: { dryRun?: boolean | undefined } = {}): Promise<AbortResult> {
  return underRunLock(db, options, () => abortLocked(db, config, input, options));
}

async function abortLocked(db: Database, config: Config, input: string, options: { dryRun?: boolean | undefined }): Promise<AbortResult> {
  const inspection = await inspectMigration(db, config, input, 'abort');
  const { names, settings } = inspection;
  const label = displayName(names.table);
  const base = { table: label, sqlName: label, dryRun: options.dryRun ?? false };
  const nothing = (note: string): AbortResult => ({ ...base, state: 'nothing to abort', note, steps: [], warnings: [], changes: 0 });
  if (inspection.state === 'swapped') {
    throw new ConflictError(
      `${label} is swapped: the partitioned table is live and the original is ${names.retired.name} (nothing was changed). Abort undoes prep and fill; the way back from the swap is unswap.`,
      `${partkitCommand(['migrate', 'unswap', label])}, then ${partkitCommand(['migrate', 'abort', label])}`,
    );
  }
  if (inspection.table?.relkind === 'p' && !inspection.retired) {
    return nothing(`${label} is partitioned and ${names.retired.name} is gone: the migration is finished (drop ran), so there is nothing to undo.`);
  }
  const table = inspection.table;
  if (inspection.state !== 'unswapped' || !table) {
    throw new ConflictError(
      `${label} is neither a plain table being migrated nor a swapped one (${[inspection.table ? `${label} is relkind ${inspection.table.relkind}` : `${label} is missing`, inspection.partitioned ? `${names.partitioned.name} exists` : null, inspection.retired ? `${names.retired.name} exists` : null].filter(Boolean).join(', ')}); nothing was changed.`,
      `See where it stands: ${partkitCommand(['migrate', 'status', label])}`,
    );
  }

  const capture = captureName(names);
  const captured = await readCapture(db, capture);
  const triggers = await readCaptureTriggers(db, table.oid);
  const group = `migrate abort ${label}`;
  const steps: SqlStep[] = [];
  const warnings: string[] = [];
  if (triggers.length > 0) {
    if (table.distributedBy !== null) steps.push(...citusTriggerSettingSteps(group, label));
    steps.push(...dropCaptureTriggerSteps(table.quoted, group, label));
  }
  const copy = inspection.partitioned;
  if (copy) {
    // Only prep's copy: partitioned by range on the control column (prep refuses anything else under that name).
    if (copy.relkind === 'p' && copy.partitionStrategy === 'r' && copy.partitionKey.join(',') === settings.controlColumn) {
      steps.push(sqlStep(`drop ${copy.label}, the partitioned copy prep made, with its months and every row fill copied into it`, `DROP TABLE ${copy.quoted}`, { group, table: label }));
    } else {
      warnings.push(`${copy.label} is not partitioned by range (${settings.controlColumn}), so prep did not make it: it is left as it is.`);
    }
  }
  if (captured.exists) steps.push(...dropCaptureSteps(capture, group, label));
  if (steps.length === 0) return { ...nothing(`nothing of a migration of ${label} is left (no capture triggers, no ${names.partitioned.name}, no ${capture.name}).`), warnings };

  const outcome = await run(db, { steps }, { dryRun: options.dryRun ?? false });
  const result: AbortResult = { ...base, state: 'aborted', note: null, steps: steps.map((step) => step.description), warnings, changes: steps.length };
  return outcome.dryRun ? { ...result, sql: outcome.sql } : result;
}

export function renderAbort(result: AbortResult): string {
  if (result.sql !== undefined) return result.sql;
  const lines =
    result.state === 'nothing to abort'
      ? [`${result.table}: nothing to abort: ${result.note}`]
      : [`${result.table}: migration aborted (${result.changes} step(s)): the capture triggers, the capture and the partitioned copy are gone; ${result.table} is as it was before prep.`];
  for (const warning of result.warnings) lines.push(`  warning: ${warning}`);
  return lines.join('\n');
}
